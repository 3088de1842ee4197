import { createReadStream } from 'node:fs'
import type { Readable } from 'node:stream'
import { Client } from 'minio'
import type { Config } from '../config.js'
import {
  StorageUnavailableError, type ByteRange, type ObjectStore, type PutFileOptions, type StoredObject
} from './object-store.js'

export type S3Settings = Pick<Config, 'S3_ENDPOINT' | 'S3_REGION' | 'S3_ACCESS_KEY' | 'S3_SECRET_KEY' | 'S3_BUCKET'>

/** The only S3 client of the service: MinIO in production, s3rver locally. */
export function createS3 (s: S3Settings): Client {
  const url = new URL(s.S3_ENDPOINT)
  const useSSL = url.protocol === 'https:'
  return new Client({
    endPoint: url.hostname,
    port: url.port !== '' ? Number(url.port) : useSSL ? 443 : 80,
    useSSL,
    region: s.S3_REGION,
    accessKey: s.S3_ACCESS_KEY,
    secretKey: s.S3_SECRET_KEY,
    pathStyle: true
  })
}

const MISSING = new Set(['NoSuchKey', 'NotFound', 'NoSuchObject'])
const isMissing = (err: unknown): boolean => MISSING.has((err as { code?: string }).code ?? '')

/**
 * minio has no request timeout: a storage that accepts connections and never
 * answers would hold requests forever. Calls of bounded size give up after
 * `ms` (the request itself is left to finish or fail on its own).
 */
async function within<T> (ms: number, operation: string, promise: Promise<T>, late?: (value: T) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      // A body that arrives after we gave up must not hold its connection open.
      if (late !== undefined) promise.then(late, () => {})
      reject(new Error(`storage ${operation} did not answer within ${ms} ms`))
    }, ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** ObjectStore on one bucket of an S3-compatible server, through the minio client only. */
export class S3ObjectStore implements ObjectStore {
  constructor (
    private readonly s3: Client,
    private readonly bucket: string,
    private readonly region: string,
    private readonly timeoutMs = 10_000
  ) {}

  private async call<T> (operation: string, fn: () => Promise<T>, bounded = true): Promise<T> {
    try {
      return bounded ? await within(this.timeoutMs, operation, fn()) : await fn()
    } catch (err) {
      throw new StorageUnavailableError(operation, err)
    }
  }

  // minio's putObject reads a body of up to 64 MiB into memory to hash it; we
  // already know the size and sha256, so the file is streamed in one signed PUT
  // (no multipart calls, which s3rver lacks).
  putFile = async (key: string, filePath: string, o: PutFileOptions): Promise<void> => {
    await this.call('put', async () => {
      const res = await this.s3.makeRequestStreamAsync(
        {
          method: 'PUT',
          bucketName: this.bucket,
          objectName: key,
          headers: { 'Content-Length': o.size, 'Content-Type': o.contentType }
        },
        createReadStream(filePath),
        this.s3.enableSHA256 ? o.sha256 : '',
        [200],
        this.region
      )
      res.resume()
      await new Promise((resolve, reject) => res.once('end', resolve).once('error', reject))
    }, false)
  }

  putBuffer = async (key: string, body: Buffer, contentType: string): Promise<void> => {
    await this.call('put', () =>
      this.s3.putObject(this.bucket, key, body, body.length, { 'Content-Type': contentType }))
  }

  get = async (key: string, range?: ByteRange): Promise<Readable | null> => {
    const request = range === undefined
      ? this.s3.getObject(this.bucket, key)
      : this.s3.getPartialObject(this.bucket, key, range.start, range.end - range.start + 1)
    try {
      return await within(this.timeoutMs, 'get', request, (body) => body.destroy())
    } catch (err) {
      if (isMissing(err)) return null
      throw new StorageUnavailableError('get', err)
    }
  }

  stat = async (key: string): Promise<{ size: number } | null> => {
    try {
      const st = await within(this.timeoutMs, 'stat', this.s3.statObject(this.bucket, key))
      return { size: st.size }
    } catch (err) {
      if (isMissing(err)) return null
      throw new StorageUnavailableError('stat', err)
    }
  }

  remove = async (keys: string[]): Promise<void> => {
    // One DELETE per key: missing keys succeed, and s3rver's multi-delete is not needed.
    await this.call('remove', async () => { await Promise.all(keys.map((k) => this.s3.removeObject(this.bucket, k))) })
  }

  async * list (prefix: string): AsyncIterable<StoredObject> {
    const stream = this.s3.listObjectsV2(this.bucket, prefix, true)
    try {
      for await (const item of stream as AsyncIterable<{ name?: string, size: number, lastModified: Date }>) {
        if (item.name !== undefined) yield { key: item.name, size: item.size, lastModified: item.lastModified }
      }
    } catch (err) {
      throw new StorageUnavailableError('list', err)
    }
  }

  ensureReady = async (): Promise<void> => {
    await this.call('ensure_bucket', async () => {
      if (await this.s3.bucketExists(this.bucket)) return
      try {
        await this.s3.makeBucket(this.bucket, this.region)
      } catch (err) {
        const code = (err as { code?: string }).code
        if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw err
      }
    })
  }

  // Storage down at start leaves no bucket: the readiness probe creates it once storage is back.
  ping = async (): Promise<void> => { await this.ensureReady() }
}
