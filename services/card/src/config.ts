import { Type, type Static } from 'typebox'
import { eventsConsumerEnv, eventsProducerEnv } from '@holo/events'
import { authVerifierEnv, baseEnv, fileServiceEnv, parseEnv } from '@holo/shared'

export const EnvSchema = Type.Object({
  ...baseEnv({ port: 3002, schema: 'card', role: 'holo_card' }),
  ...eventsProducerEnv(),
  // The card service also consumes: billing's entitlement events (docs/card.md, Entitlements).
  ...eventsConsumerEnv(),
  /** Connections of the entitlements consumer's own pg pool. */
  CARD_CONSUMER_POOL_SIZE: Type.Integer({ default: 2, minimum: 1, maximum: 50 }),
  ...authVerifierEnv(),
  /** Prefix of every Redis key this service writes (tests give each app its own). */
  CACHE_PREFIX: Type.String({ default: 'card:', pattern: '^[A-Za-z0-9:_-]{1,64}$' }),
  /** Lifetime of a cached single-card body; invalidation is explicit, this only bounds memory. */
  CARD_CACHE_TTL_SECONDS: Type.Integer({ default: 300, minimum: 1, maximum: 86_400 }),
  /** Lifetime of a cached first page of a public listing. */
  LIST_CACHE_TTL_SECONDS: Type.Integer({ default: 30, minimum: 1, maximum: 3600 }),
  // Past its TTL a page may still be served this long while one request refreshes it.
  LIST_CACHE_STALE_SECONDS: Type.Integer({ default: 30, minimum: 0, maximum: 3600 }),
  // A page missing cards added since it was filled is refreshed (behind its readers) at most this often.
  /** How often each instance writes the card views it counted (holo.card.views_counted.v1) to the outbox. */
  CARD_VIEWS_FLUSH_MS: Type.Integer({ default: 5000, minimum: 50, maximum: 300_000 }),
  LIST_CACHE_REFRESH_MS: Type.Integer({ default: 5000, minimum: 0, maximum: 60_000 }),
  /** Distinct users whose open reports hide a card pending review (docs/card.md, Reports and moderation); 0: never. */
  MODERATION_AUTO_HIDE_REPORTS: Type.Integer({ default: 3, minimum: 0, maximum: 1000 }),
  // The file service, asked whether the caller may use a file (FILE_SERVICE_URL, FILE_SERVICE_TIMEOUT_MS).
  ...fileServiceEnv()
})

export type Config = Static<typeof EnvSchema>

export function loadConfig (env: Record<string, string | undefined>): Config {
  return parseEnv(EnvSchema, env)
}
