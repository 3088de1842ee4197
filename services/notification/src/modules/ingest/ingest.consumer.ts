// The notification consumer group: reads the producers' streams and applies each event once (its effect and
// its applied_events record in one transaction). What the effects changed is published to Redis, counted and
// handed to the email job only after their transaction committed.
import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { Registry } from 'prom-client'
import {
  consumerSettings, postgresApplied, pruneAppliedEvents, startConsumer, withTransactionState, type Consumer,
  type HoloEvent
} from '@holo/events'
import type { Config } from '../../config.js'
import type { NotificationMetrics } from '../../metrics.js'
import type { NotificationsPublisher } from '../notifications/notifications.publisher.js'
import { applyEvent, EffectLog, INGESTED_TYPES, type IngestedType } from './ingest.handler.js'
import { IngestRepository } from './ingest.repository.js'

export const CONSUMER_GROUP = 'notification'
export const PRODUCER_STREAMS = ['auth', 'card'] as const

export interface IngestOptions {
  config: Config
  redis: Redis
  pool: pg.Pool
  publisher: NotificationsPublisher
  counters: NotificationMetrics
  /** Called after a commit that made mail due now. */
  wakeMail: () => void
  log: FastifyBaseLogger
  metrics: Registry
  /** A stable consumer name (tests); default host-pid-random. */
  consumerName?: string
}

export async function startIngest (o: IngestOptions): Promise<Consumer> {
  // An EffectLog per transaction, acted on only after that transaction committed (a rolled-back batch publishes
  // nothing; its events are applied again).
  const base = postgresApplied(o.pool, { schema: o.config.DATABASE_SCHEMA })
  const { applied, stateOf: logOf } = withTransactionState(base, {
    open: () => new EffectLog(),
    committed: (log) => {
      for (const type of log.created) o.counters.created.inc({ type })
      if (log.mailDue) o.wakeMail()
      void o.publisher.publish(log.changes)
    }
  })
  const settings = {
    likeWindowSeconds: o.config.NOTIFICATIONS_LIKE_WINDOW_SECONDS,
    gatherSeconds: o.config.NOTIFICATIONS_EMAIL_GATHER_SECONDS
  }
  return await startConsumer({
    redis: o.redis,
    group: CONSUMER_GROUP,
    consumerName: o.consumerName,
    streams: PRODUCER_STREAMS.map((p) => o.config.EVENTS_STREAM_PREFIX + p),
    applied,
    types: INGESTED_TYPES,
    orderKey: recipientKey,
    handle: async (event, tx) => {
      const log = logOf(tx)
      if (tx === undefined || log === undefined) throw new Error('notification effects need their transaction')
      await applyEvent(event, new IngestRepository(tx), log, settings)
    },
    log: o.log,
    metrics: o.metrics,
    ...consumerSettings(o.config)
  })
}

/**
 * Likes, the bulk of the stream, lock their owner's inbox: keyed by the owner, the likes of one user's cards run
 * in one chain and workers side by side (EVENTS_CONCURRENCY) never wait on each other; one card's likes keep their
 * order (a card keeps its owner). Every other event fills a directory the likes read (names, titles, visibility)
 * or is rare: those go first, in stream order, before the batch's likes.
 */
export const recipientKey = (event: HoloEvent<IngestedType>): string | null =>
  event.type === 'holo.card.liked.v1' || event.type === 'holo.card.unliked.v1' ? event.data.ownerId : null

/** Deletes applied event ids older than `keepDays` (they can no longer be delivered). */
export async function pruneApplied (pool: pg.Pool, keepDays: number, now = new Date()): Promise<number> {
  return await pruneAppliedEvents(pool, CONSUMER_GROUP, new Date(now.getTime() - keepDays * 86_400_000))
}
