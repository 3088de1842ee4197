// The analytics consumer group: reads the producers' streams and applies each event once (its effect and its
// applied_events record in one transaction), and prunes what deduplication no longer needs.
import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { Registry } from 'prom-client'
import {
  consumerSettings, postgresApplied, pruneAppliedEvents, startConsumer, withTransactionState, type Consumer
} from '@holo/events'
import type { Config } from '../../config.js'
import { applyEvent, INGESTED_TYPES } from './ingest.handler.js'
import { IngestRepository, Tally } from './ingest.repository.js'

export const CONSUMER_GROUP = 'analytics'
export const PRODUCER_STREAMS = ['auth', 'card', 'file', 'billing'] as const

export interface IngestOptions {
  config: Config
  redis: Redis
  pool: pg.Pool
  log: FastifyBaseLogger
  metrics: Registry
  /** A stable consumer name (tests); default host-pid-random. */
  consumerName?: string
}

export async function startIngest (o: IngestOptions): Promise<Consumer> {
  // The counting of a transaction's events (one event's, or a batch's) is written once, just before its commit.
  const { applied, stateOf: tallyOf } = withTransactionState(postgresApplied(o.pool, { schema: o.config.DATABASE_SCHEMA }), {
    open: () => new Tally(),
    beforeCommit: async (tally, tx) => { await new IngestRepository(tx).flush(tally) }
  })
  return await startConsumer({
    redis: o.redis,
    group: CONSUMER_GROUP,
    consumerName: o.consumerName,
    streams: PRODUCER_STREAMS.map((p) => o.config.EVENTS_STREAM_PREFIX + p),
    applied,
    types: INGESTED_TYPES,
    handle: async (event, tx) => {
      const tally = tallyOf(tx)
      if (tx === undefined || tally === undefined) throw new Error('analytics effects need the applied_events transaction')
      await applyEvent(event, new IngestRepository(tx), tally)
    },
    log: o.log,
    metrics: o.metrics,
    ...consumerSettings(o.config)
  })
}

/**
 * Deletes applied event ids and per-user activity rows older than `keepDays`: an event that old can no
 * longer be delivered, so neither can be needed to deduplicate it. Returns how many rows went.
 */
export async function pruneDedupe (pool: pg.Pool, keepDays: number, now = new Date()): Promise<number> {
  const before = new Date(now.getTime() - keepDays * 86_400_000)
  const applied = await pruneAppliedEvents(pool, CONSUMER_GROUP, before)
  const active = await pool.query('DELETE FROM active_users WHERE bucket < $1', [before])
  return applied + (active.rowCount ?? 0)
}

/** Runs pruneDedupe every `everyMs` (first run after one period); returns the stop function. */
export function schedulePruning (
  pool: pg.Pool, keepDays: number, log: FastifyBaseLogger, everyMs = 3_600_000
): () => void {
  const timer = setInterval(() => {
    pruneDedupe(pool, keepDays)
      .then((n) => { if (n > 0) log.info({ deleted: n }, 'pruned deduplication records') })
      .catch((err: unknown) => { log.warn({ err }, 'pruning deduplication records failed; will try again') })
  }, everyMs)
  timer.unref()
  return () => { clearInterval(timer) }
}
