import { Type, type Static } from 'typebox'
import { authVerifierEnv, baseEnv, parseEnv } from '@holo/shared'
import { eventsConsumerEnv } from '@holo/events'

export const EnvSchema = Type.Object({
  ...baseEnv({ port: 3006, schema: 'audit', role: 'holo_audit' }),
  ...authVerifierEnv(),
  ...eventsConsumerEnv(),
  /**
   * Lag-tolerant: after a read that did not fill the batch, wait 100 ms before the next, so that a transaction
   * applies the events of 100 ms at once rather than two or three (fewer commits per event under load).
   */
  EVENTS_LINGER_MS: Type.Integer({ default: 100, minimum: 0, maximum: 10_000 }),
  /** Connections of the consumer's own pool (the effects and their applied_events records). */
  AUDIT_CONSUMER_POOL_SIZE: Type.Integer({ default: 4, minimum: 2, maximum: 100 }),
  /** Rows read per query while /api/v1/audit/verify walks the chain. */
  AUDIT_VERIFY_BATCH_SIZE: Type.Integer({ default: 1000, minimum: 1, maximum: 50_000 })
})

export type Config = Static<typeof EnvSchema>

export function loadConfig (env: Record<string, string | undefined>): Config {
  return parseEnv(EnvSchema, env)
}
