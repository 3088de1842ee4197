import { Client } from 'minio'
import type { Config } from './config.js'

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

/** Creates the bucket when missing; safe to call at every start. */
export async function ensureBucket (s3: Client, bucket: string, region: string): Promise<void> {
  if (!(await s3.bucketExists(bucket))) {
    try {
      await s3.makeBucket(bucket, region)
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw err
    }
  }
}
