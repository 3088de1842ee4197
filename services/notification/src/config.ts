import { Type, type Static } from 'typebox'
import { ConfigError, assertProductionSafe, authVerifierEnv, baseEnv, parseEnv } from '@holo/shared'
import { eventsConsumerEnv } from '@holo/events'

/** Signs unsubscribe links in development and tests only; production refuses to start with it. */
export const DEV_UNSUBSCRIBE_KEY = 'holo-dev-notification-unsubscribe-key-not-for-production'

export const EnvSchema = Type.Object({
  ...baseEnv({ port: 3004, schema: 'notification', role: 'holo_notification' }),
  ...authVerifierEnv(),
  ...eventsConsumerEnv(),
  /**
   * Recipients whose events are applied side by side (the consumer keys its order by recipient, so workers never
   * wait on one another's inbox locks). Live delivery at 200 likes/s: see docs/notifications.md, "Figures".
   */
  EVENTS_CONCURRENCY: Type.Integer({ default: 8, minimum: 1, maximum: 64 }),
  /** Live delivery waits for its transaction's commit: small transactions keep it prompt under load. */
  EVENTS_TRANSACTION_EVENTS: Type.Integer({ default: 4, minimum: 0, maximum: 10_000 }),
  /** The gateway's public origin: links in mail (unsubscribe) start with it. */
  PUBLIC_URL: Type.String({ default: 'http://127.0.0.1:8080', pattern: '^https?://[^\\s]+[^/\\s]$' }),
  SMTP_URL: Type.String({ default: 'smtp://127.0.0.1:1025', pattern: '^smtps?://' }),
  MAIL_FROM: Type.String({ default: 'Holo Cards <no-reply@holo.cards>', minLength: 3 }),
  /** Connections of the consumer's and the jobs' own pg pool. */
  NOTIFICATIONS_POOL_SIZE: Type.Integer({ default: 10, minimum: 1, maximum: 100 }),
  /** Redis channel prefix of the live messages: `<prefix>user:<userId>`. */
  NOTIFICATIONS_CHANNEL_PREFIX: Type.String({ default: 'notifications:', pattern: '^[A-Za-z0-9:._-]{0,64}$' }),
  /** Likes of one card within this many seconds from the first collapse into one notification. */
  NOTIFICATIONS_LIKE_WINDOW_SECONDS: Type.Integer({ default: 600, minimum: 1, maximum: 86_400 }),
  /** At most one non-security mail per user and type in this many seconds; the rest are gathered. */
  NOTIFICATIONS_EMAIL_GATHER_SECONDS: Type.Integer({ default: 600, minimum: 1, maximum: 86_400 }),
  /** How often the email job looks for due mail (a commit that makes mail due wakes it at once); 0: never. */
  NOTIFICATIONS_EMAIL_POLL_MS: Type.Integer({ default: 5000, minimum: 0, maximum: 3_600_000 }),
  /** Comma-separated HMAC keys of unsubscribe links; the first signs, all verify. */
  NOTIFICATIONS_UNSUBSCRIBE_KEYS: Type.String({ default: DEV_UNSUBSCRIBE_KEY, minLength: 32 }),
  /** Notifications are kept this many days, or the newest NOTIFICATIONS_KEEP_PER_USER, whichever keeps more. */
  NOTIFICATIONS_RETENTION_DAYS: Type.Integer({ default: 90, minimum: 1, maximum: 3650 }),
  NOTIFICATIONS_KEEP_PER_USER: Type.Integer({ default: 1000, minimum: 1, maximum: 1_000_000 }),
  /** Applied event ids are kept this long (above the bus's 7-day retention). */
  NOTIFICATIONS_DEDUPE_KEEP_DAYS: Type.Integer({ default: 35, minimum: 8, maximum: 3650 }),
  /** First inbox pages and unread counts are served from Redis for up to this long (0: never cached). */
  NOTIFICATIONS_CACHE_SECONDS: Type.Integer({ default: 300, minimum: 0, maximum: 86_400 }),
  /** Live streams: a heartbeat (SSE comment, WebSocket ping) this often. */
  NOTIFICATIONS_HEARTBEAT_MS: Type.Integer({ default: 25_000, minimum: 100, maximum: 300_000 }),
  /** Live streams: how often open streams are checked for a revoked session or an expired token. */
  NOTIFICATIONS_SESSION_CHECK_MS: Type.Integer({ default: 1000, minimum: 50, maximum: 60_000 }),
  /** Lifetime of a stream ticket (single use, `?ticket=` on the stream endpoints). */
  NOTIFICATIONS_STREAM_TICKET_SECONDS: Type.Integer({ default: 30, minimum: 1, maximum: 300 })
})

export type Config = Static<typeof EnvSchema>

export function loadConfig (env: Record<string, string | undefined>): Config {
  const config = parseEnv(EnvSchema, env)
  const keys = unsubscribeKeys(config)
  if (keys.length === 0 || keys.some((k) => k.length < 32)) {
    throw new ConfigError('config: NOTIFICATIONS_UNSUBSCRIBE_KEYS must hold keys of at least 32 characters each')
  }
  assertProductionSafe(config.NODE_ENV, [
    [keys.includes(DEV_UNSUBSCRIBE_KEY), 'NOTIFICATIONS_UNSUBSCRIBE_KEYS contains the development key'],
    [!config.PUBLIC_URL.startsWith('https://'), 'PUBLIC_URL must be https']
  ])
  return config
}

export function unsubscribeKeys (config: Pick<Config, 'NOTIFICATIONS_UNSUBSCRIBE_KEYS'>): string[] {
  return config.NOTIFICATIONS_UNSUBSCRIBE_KEYS.split(',').map((k) => k.trim()).filter((k) => k !== '')
}
