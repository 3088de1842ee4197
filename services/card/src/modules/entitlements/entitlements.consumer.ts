// The card service's consumer group: reads billing's stream and keeps the card service's own copy of the
// entitlements (each event once: its effect and its applied_events record in one transaction), so that
// creating or editing a card never asks billing anything.
import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { Registry } from 'prom-client'
import { consumerSettings, postgresApplied, startConsumer, type Consumer, type HoloEvent } from '@holo/events'
import type { Config } from '../../config.js'
import { EntitlementsWriter } from './entitlements.repository.js'

export const CONSUMER_GROUP = 'card'
export const ENTITLEMENT_TYPES = ['holo.entitlement.granted.v1', 'holo.entitlement.revoked.v1'] as const

export interface EntitlementsConsumerOptions {
  config: Config
  redis: Redis
  pool: pg.Pool
  log: FastifyBaseLogger
  metrics: Registry
  consumerName?: string
}

/** Applies one entitlement event to the copy (a newer version of the same entitlement wins). */
export async function applyEntitlementEvent (event: HoloEvent, w: EntitlementsWriter): Promise<void> {
  const version = { seq: event.subjectseq ?? null, time: new Date(event.time) }
  if (event.type === 'holo.entitlement.granted.v1') {
    const d = event.data
    await w.upsert({
      id: event.subject,
      userId: d.userId,
      product: d.product,
      templateId: d.templateId,
      validUntil: d.validUntil === null ? null : new Date(d.validUntil),
      revoked: false
    }, version)
  } else if (event.type === 'holo.entitlement.revoked.v1') {
    const d = event.data
    await w.upsert({
      id: event.subject, userId: d.userId, product: d.product, templateId: d.templateId, validUntil: null, revoked: true
    }, version)
  }
}

export async function startEntitlementsConsumer (o: EntitlementsConsumerOptions): Promise<Consumer> {
  return await startConsumer({
    redis: o.redis,
    group: CONSUMER_GROUP,
    consumerName: o.consumerName,
    streams: [`${o.config.EVENTS_STREAM_PREFIX}billing`],
    applied: postgresApplied(o.pool, { schema: o.config.DATABASE_SCHEMA }),
    types: ENTITLEMENT_TYPES,
    handle: async (event, tx) => {
      if (tx === undefined) throw new Error('entitlement effects need the applied_events transaction')
      await applyEntitlementEvent(event, new EntitlementsWriter(tx))
    },
    log: o.log,
    metrics: o.metrics,
    ...consumerSettings(o.config)
  })
}
