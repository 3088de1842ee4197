import { Type, type Static } from 'typebox'
import { assertProductionSafe, baseEnv, parseEnv } from '@holo/shared'

export const EnvSchema = Type.Object({
  ...baseEnv({ port: 3003, schema: 'file', role: 'holo_file' }),
  S3_ENDPOINT: Type.String({ default: 'http://127.0.0.1:9000', pattern: '^https?://' }),
  S3_REGION: Type.String({ default: 'us-east-1' }),
  S3_ACCESS_KEY: Type.String({ default: 'S3RVER', minLength: 1 }),
  S3_SECRET_KEY: Type.String({ default: 'S3RVER', minLength: 1 }),
  S3_BUCKET: Type.String({ default: 'holo-files', pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' })
})

export type Config = Static<typeof EnvSchema>

export function loadConfig (env: Record<string, string | undefined>): Config {
  const config = parseEnv(EnvSchema, env)
  assertProductionSafe(config.NODE_ENV, [
    [config.S3_SECRET_KEY === 'S3RVER', 'S3_SECRET_KEY is the local development default']
  ])
  return config
}
