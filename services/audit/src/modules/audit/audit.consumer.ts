// The audit group of the bus: every audited event of every producer (all but aggregates such as counted views),
// appended to the log once.
import type pg from 'pg'
import type { Redis } from 'ioredis'
import type { Registry } from 'prom-client'
import {
  PRODUCERS, auditedTypes, consumerSettings, postgresApplied, startConsumer, withTransactionState, type Consumer,
  type EventsLogger
} from '@holo/events'
import type { Config } from '../../config.js'
import { ChainBatch } from './audit.appender.js'

/** The audit service's consumer group. */
export const AUDIT_GROUP = 'audit'

/** The producer streams the log reads: `<prefix>auth`, `<prefix>card`, `<prefix>file`. */
export const auditStreams = (prefix: string): string[] => Object.keys(PRODUCERS).map((p) => prefix + p)

export interface AuditConsumerOptions {
  config: Config
  redis: Redis
  pool: pg.Pool
  log: EventsLogger
  metrics: Registry
  consumerName?: string
}

export async function startAuditConsumer (o: AuditConsumerOptions): Promise<Consumer> {
  // A batch per transaction: its events are gathered as they are applied and chained and written before the
  // commit (the chain's lock, one read of the head, one INSERT).
  const { applied, stateOf: batchOf } = withTransactionState(
    postgresApplied(o.pool, { schema: o.config.DATABASE_SCHEMA }), {
      open: () => new ChainBatch(),
      beforeCommit: async (batch, tx) => { await batch.flush(tx) }
    })
  return await startConsumer({
    redis: o.redis,
    group: AUDIT_GROUP,
    streams: auditStreams(o.config.EVENTS_STREAM_PREFIX),
    consumerName: o.consumerName,
    applied,
    types: auditedTypes,
    handle: async (event, tx) => {
      // postgresApplied always hands over its transaction.
      const batch = batchOf(tx)
      if (tx === undefined || batch === undefined) throw new Error('the audit consumer needs the effect-once transaction')
      await batch.add(tx, event)
    },
    log: o.log,
    metrics: o.metrics,
    ...consumerSettings(o.config)
  })
}
