import type { Readable } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import type { TimedCall } from '@holo/shared'

export interface StoredObject { key: string, size: number, lastModified: Date }

/** What a PUT of a local file states up front; `sha256` is the file's hex digest. */
export interface PutFileOptions { size: number, sha256: string, contentType: string }

/** An inclusive byte range of an object. */
export interface ByteRange { start: number, end: number }

/**
 * What the file service needs from object storage. Routes and services know
 * only this; the S3 implementation is one adapter, so direct-to-storage or
 * resumable uploads can come as another without touching the routes.
 * Every method throws a StorageUnavailableError when storage cannot be reached.
 */
export interface ObjectStore {
  /** Streams a local file into `key` in one PUT. */
  putFile: (key: string, filePath: string, o: PutFileOptions) => Promise<void>
  putBuffer: (key: string, body: Buffer, contentType: string) => Promise<void>
  /** The bytes of `key` (or of a range of it), or null when there is no such object. */
  get: (key: string, range?: ByteRange) => Promise<Readable | null>
  /** The size of `key`, or null when there is no such object. */
  stat: (key: string) => Promise<{ size: number } | null>
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

/**
 * Times every storage call with the shared `storageTimer` (reads: time to
 * first byte, as `get` resolves with the stream).
 */
export function observedStore (store: ObjectStore, timer: TimedCall): ObjectStore {
  const timed = <A extends unknown[], R>(operation: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => await timer(operation, () => fn(...args))
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

/** Removes objects, logging instead of failing: left-overs are found by the orphan cleaner. */
export async function removeQuietly (store: ObjectStore, keys: string[], log: FastifyBaseLogger): Promise<void> {
  await store.remove(keys).catch((err: unknown) => {
    log.warn({ err, keys }, 'could not remove objects; the orphan cleaner will')
  })
}
