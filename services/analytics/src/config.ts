import { Type, type Static } from 'typebox'
import { authVerifierEnv, baseEnv, parseEnv } from '@holo/shared'
import { eventsConsumerEnv } from '@holo/events'

export const EnvSchema = Type.Object({
  ...baseEnv({ port: 3005, schema: 'analytics', role: 'holo_analytics' }),
  ...authVerifierEnv(),
  ...eventsConsumerEnv(),
  /**
   * Lag-tolerant: after a read that did not fill the batch, wait 100 ms before the next, so that a transaction
   * applies the events of 100 ms at once rather than two or three (fewer commits per event under load).
   */
  EVENTS_LINGER_MS: Type.Integer({ default: 100, minimum: 0, maximum: 10_000 }),
  /** Prefix of this service's Redis keys (the top-list cache). */
  CACHE_PREFIX: Type.String({ default: 'analytics:', pattern: '^[A-Za-z0-9:_-]{1,64}$' }),
  /** Connections of the consumer's own pg pool (effects run in its transactions). */
  ANALYTICS_CONSUMER_POOL_SIZE: Type.Integer({ default: 4, minimum: 1, maximum: 100 }),
  /** Most buckets one series request may span (a 400 names it beyond). */
  ANALYTICS_MAX_BUCKETS: Type.Integer({ default: 1000, minimum: 10, maximum: 100_000 }),
  /** How long a top list is served from Redis; 0 computes it on every request. */
  ANALYTICS_TOP_CACHE_SECONDS: Type.Integer({ default: 10, minimum: 0, maximum: 3600 }),
  /**
   * Applied event ids and per-user activity rows older than this are pruned (hourly). Keep it above the bus's
   * retention (7 days): an event can only come back while it is still in a stream or an outbox.
   */
  ANALYTICS_DEDUPE_KEEP_DAYS: Type.Integer({ default: 35, minimum: 8, maximum: 3650 })
})

export type Config = Static<typeof EnvSchema>

export function loadConfig (env: Record<string, string | undefined>): Config {
  return parseEnv(EnvSchema, env)
}
