import type { Readable } from 'node:stream'

export interface StoredObject { key: string, size: number, lastModified: Date }

/** An inclusive byte range of an object. */
export interface ByteRange { start: number, end: number }

/**
 * What the file service needs from object storage. Routes and services know
 * only this; the S3 implementation is one adapter, so direct-to-storage or
 * resumable uploads can come as another without touching the routes.
 * Every method throws a StorageUnavailableError when storage cannot be reached.
 */
export interface ObjectStore {
  /** Streams a local file into `key` in one PUT; `sha256` is the file's hex digest. */
  putFile: (key: string, filePath: string, o: { size: number, sha256: string, contentType: string }) => Promise<void>
  putBuffer: (key: string, body: Buffer, contentType: string) => Promise<void>
  /** The bytes of `key` (or of a range of it), or undefined when there is no such object. */
  get: (key: string, range?: ByteRange) => Promise<Readable | undefined>
  stat: (key: string) => Promise<{ size: number } | undefined>
  /** Removes objects; missing ones are not an error. */
  remove: (keys: string[]) => Promise<void>
  list: (prefix: string) => AsyncIterable<StoredObject>
  /** Creates the bucket when missing; resolves when storage answers. */
  ensureReady: () => Promise<void>
  /** Resolves when storage answers and the bucket exists (creating it when missing). */
  ping: () => Promise<void>
}

/** Storage could not be reached or failed: rendered as 503 naming `storage`. */
export class StorageUnavailableError extends Error {
  override name = 'StorageUnavailableError'
  readonly dependency = 'storage'
  constructor (operation: string, cause: unknown) {
    super(`storage ${operation} failed`, { cause })
  }
}

export type StorageCallObserver = (operation: string, outcome: 'ok' | 'error', seconds: number) => void

/** Times every storage call (time to first byte for reads). */
export function observedStore (store: ObjectStore, observe: StorageCallObserver): ObjectStore {
  const timed = <A extends unknown[], R>(operation: string, fn: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
    const started = performance.now()
    try {
      const result = await fn(...args)
      observe(operation, 'ok', (performance.now() - started) / 1000)
      return result
    } catch (err) {
      observe(operation, 'error', (performance.now() - started) / 1000)
      throw err
    }
  }
  return {
    putFile: timed('put', store.putFile),
    putBuffer: timed('put', store.putBuffer),
    get: timed('get', store.get),
    stat: timed('stat', store.stat),
    remove: timed('remove', store.remove),
    list: (prefix) => store.list(prefix),
    ensureReady: timed('ensure_bucket', store.ensureReady),
    ping: timed('ping', store.ping)
  }
}
