// The bus's environment variables, for services to spread into their own env
// schema (as they do with the kit's baseEnv), and their translation into relay
// and consumer options. One place names them, so every service reads the same.
import { Type, type Static } from 'typebox'
import type { ConsumerOptions } from './consumer.js'
import type { RelayOptions } from './relay.js'

const StreamPrefix = Type.String({ default: 'events.', pattern: '^[A-Za-z0-9:._-]{0,64}$' })

/** Variables of a producing service (auth, card, file): its relay. */
export function eventsProducerEnv () {
  return {
    /** Streams are prefix + producer: events.auth, events.card, events.file. */
    EVENTS_STREAM_PREFIX: StreamPrefix,
    /** How long events stay in the streams and sent rows in the outbox (republish reaches this far back). */
    EVENTS_RETENTION_SECONDS: Type.Integer({ default: 604_800, minimum: 60, maximum: 90 * 86_400 }),
    EVENTS_RELAY_BATCH_SIZE: Type.Integer({ default: 500, minimum: 1, maximum: 10_000 }),
    /** Safety poll of the relay; NOTIFY wakes it at once after each commit. */
    EVENTS_RELAY_POLL_MS: Type.Integer({ default: 1000, minimum: 10, maximum: 60_000 })
  }
}

/** Variables of a consuming service (audit, analytics, notification). */
export function eventsConsumerEnv () {
  return {
    EVENTS_STREAM_PREFIX: StreamPrefix,
    /** Off, the service serves what it has without reading the bus (document generation, read-only replicas). */
    EVENTS_CONSUMER_ENABLED: Type.Boolean({ default: true }),
    /** Attempts before an event goes to the group's dead-letter stream. */
    EVENTS_MAX_ATTEMPTS: Type.Integer({ default: 5, minimum: 1, maximum: 100 }),
    /** Entries another instance left unacknowledged this long are taken over (keep above the slowest effect). */
    EVENTS_CLAIM_IDLE_MS: Type.Integer({ default: 30_000, minimum: 100, maximum: 3_600_000 }),
    /** Entries read and not yet applied, at most. */
    EVENTS_BATCH_SIZE: Type.Integer({ default: 100, minimum: 1, maximum: 10_000 }),
    /** Workers: order keys (subjects) applied side by side, each key's events in order. */
    EVENTS_CONCURRENCY: Type.Integer({ default: 1, minimum: 1, maximum: 64 }),
    /** A worker's transaction takes no further chain once it applied this many events (0: no limit). */
    EVENTS_TRANSACTION_EVENTS: Type.Integer({ default: 0, minimum: 0, maximum: 10_000 }),
    /** After a read that did not fill the batch, wait this long before the next (0: at once); see lingerMs. */
    EVENTS_LINGER_MS: Type.Integer({ default: 0, minimum: 0, maximum: 10_000 })
  }
}

const producerSchema = Type.Object(eventsProducerEnv())
const consumerSchema = Type.Object(eventsConsumerEnv())

export function relaySettings (config: Static<typeof producerSchema>): Pick<
  RelayOptions, 'streamPrefix' | 'retentionMs' | 'batchSize' | 'pollIntervalMs'
> {
  return {
    streamPrefix: config.EVENTS_STREAM_PREFIX,
    retentionMs: config.EVENTS_RETENTION_SECONDS * 1000,
    batchSize: config.EVENTS_RELAY_BATCH_SIZE,
    pollIntervalMs: config.EVENTS_RELAY_POLL_MS
  }
}

export function consumerSettings (config: Static<typeof consumerSchema>): Pick<
  ConsumerOptions,
  'streamPrefix' | 'maxAttempts' | 'claimIdleMs' | 'batchSize' | 'concurrency' | 'transactionEvents' | 'lingerMs'
> {
  return {
    streamPrefix: config.EVENTS_STREAM_PREFIX,
    maxAttempts: config.EVENTS_MAX_ATTEMPTS,
    claimIdleMs: config.EVENTS_CLAIM_IDLE_MS,
    batchSize: config.EVENTS_BATCH_SIZE,
    concurrency: config.EVENTS_CONCURRENCY,
    transactionEvents: config.EVENTS_TRANSACTION_EVENTS === 0 ? undefined : config.EVENTS_TRANSACTION_EVENTS,
    lingerMs: config.EVENTS_LINGER_MS
  }
}
