import { tmpdir } from 'node:os'
import path from 'node:path'
import { Type, type Static } from 'typebox'
import { eventsProducerEnv } from '@holo/events'
import { ConfigError, assertProductionSafe, authVerifierEnv, baseEnv, parseEnv } from '@holo/shared'

const MiB = 1024 * 1024

/** Signs URLs in development and tests only; production refuses to start with it. */
export const DEV_URL_SIGNING_KEY = 'holo-dev-file-url-signing-key-not-for-production'

export const EnvSchema = Type.Object({
  ...baseEnv({ port: 3003, schema: 'file', role: 'holo_file' }),
  ...authVerifierEnv(),
  ...eventsProducerEnv(),
  S3_ENDPOINT: Type.String({ default: 'http://127.0.0.1:9000', pattern: '^https?://' }),
  S3_REGION: Type.String({ default: 'us-east-1' }),
  S3_ACCESS_KEY: Type.String({ default: 'S3RVER', minLength: 1 }),
  S3_SECRET_KEY: Type.String({ default: 'S3RVER', minLength: 1 }),
  S3_BUCKET: Type.String({ default: 'holo-files', pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' }),
  // A single S3 PUT takes at most 5 GiB.
  FILE_MAX_BYTES: Type.Integer({ default: 10 * MiB, minimum: 1, maximum: 5 * 1024 * MiB }),
  FILE_QUOTA_BYTES: Type.Integer({ default: 200 * MiB, minimum: 0 }),
  /** Comma-separated; the first signs, all verify (rotation: prepend the new key, drop the old one later). */
  FILE_URL_SIGNING_KEYS: Type.String({ default: DEV_URL_SIGNING_KEY, minLength: 32 }),
  FILE_SIGNED_URL_MAX_SECONDS: Type.Integer({ default: 7 * 24 * 3600, minimum: 60 }),
  /** Prefix of the URLs the service hands out (the gateway's public origin); empty gives root-relative URLs. */
  FILE_PUBLIC_BASE_URL: Type.String({ default: '', pattern: '^(https?://[^\\s]+[^/\\s])?$' }),
  /** Where uploads are spooled while they are checked; empty means the OS temp dir. */
  FILE_TEMP_DIR: Type.String({ default: '' })
})

export type Config = Static<typeof EnvSchema>

export function loadConfig (env: Record<string, string | undefined>): Config {
  const config = parseEnv(EnvSchema, env)
  const keys = signingKeys(config)
  if (keys.length === 0 || keys.some((k) => k.length < 32)) {
    throw new ConfigError('config: FILE_URL_SIGNING_KEYS must hold keys of at least 32 characters each')
  }
  assertProductionSafe(config.NODE_ENV, [
    [config.S3_SECRET_KEY === 'S3RVER', 'S3_SECRET_KEY is the local development default'],
    [keys.includes(DEV_URL_SIGNING_KEY), 'FILE_URL_SIGNING_KEYS contains the development key']
  ])
  return config
}

export function signingKeys (config: Pick<Config, 'FILE_URL_SIGNING_KEYS'>): string[] {
  return config.FILE_URL_SIGNING_KEYS.split(',').map((k) => k.trim()).filter((k) => k !== '')
}

/** Where uploads are spooled while they are checked. */
export const uploadTempDir = (config: Pick<Config, 'FILE_TEMP_DIR'>): string =>
  config.FILE_TEMP_DIR !== '' ? config.FILE_TEMP_DIR : path.join(tmpdir(), 'holo-file-uploads')
