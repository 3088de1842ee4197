import { Type, type Static } from 'typebox'
import { baseEnv, parseEnv } from '@holo/shared'

export const EnvSchema = Type.Object({
  ...baseEnv({ port: 3002, schema: 'card', role: 'holo_card' })
})

export type Config = Static<typeof EnvSchema>

export function loadConfig (env: Record<string, string | undefined>): Config {
  return parseEnv(EnvSchema, env)
}
