// How a producing service (auth, card, file) publishes: events made in the
// service layer carry the request they came from, repositories write them in
// the change's own transaction, and the service's relay moves them to Redis.
// The bus itself is @holo/events; docs/events.md is its guide.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import {
  makeEvent, relaySettings, startRelay, writeOutbox,
  type EventType, type HoloEvent, type MakeEventInput, type eventsProducerEnv
} from '@holo/events'
import type { Static, TObject } from 'typebox'

/** Where a request came from, as events record it. */
export interface RequestOrigin { requestId?: string, traceparent?: string, ip?: string }

const origins = new AsyncLocalStorage<RequestOrigin>()
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/

/**
 * Remembers each request's id, trace context and client address for the
 * events made while it is handled (the kit registers it for every service).
 */
export function trackRequestOrigins (app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const traceparent = request.headers.traceparent
    origins.run({
      requestId: request.id,
      traceparent: typeof traceparent === 'string' && TRACEPARENT.test(traceparent) ? traceparent : undefined,
      ip: request.ip
    }, done)
  })
}

/** The request being handled, or nothing outside a request (a CLI, a timer). */
export function requestOrigin (): RequestOrigin {
  return origins.getStore() ?? {}
}

type Made<T extends EventType> = Omit<MakeEventInput<T>, 'requestId' | 'traceparent' | 'ip'>

/**
 * `makeEvent` with the current request's origin. Call it in the request's own
 * flow (the service layer), not inside a batch shared by several requests:
 * there the origin would be another request's.
 */
export function event<T extends EventType> (type: T, input: Made<T>): HoloEvent<T> {
  const origin = requestOrigin()
  return makeEvent(type, {
    ...input, requestId: origin.requestId, traceparent: origin.traceparent, ip: origin.ip
  } as MakeEventInput<T>)
}

/** The events a change publishes, made from what it wrote (they commit or roll back with it). */
export type EventsOf<T> = (result: T) => readonly HoloEvent[]
export const noEvents = (): readonly HoloEvent[] => []
/** The events of a change of one row, made from the row as the change found it (locked) and left it. */
export type Changed<Row> = (before: Row, after: Row) => readonly HoloEvent[]

/** What a Prisma interactive transaction offers for raw SQL. */
export interface RawSqlTransaction { $executeRawUnsafe: (sql: string, ...values: unknown[]) => Promise<number> }

/** Writes events to the service's outbox inside a Prisma transaction (see writeOutbox). */
export async function writeEvents (
  tx: RawSqlTransaction,
  events: readonly HoloEvent[],
  schema: string
): Promise<void> {
  await writeOutbox(async (sql, params) => await tx.$executeRawUnsafe(sql, ...params), events, { schema })
}

/** A Prisma client, as far as running an interactive transaction goes. */
export interface TransactionRunner<Tx> { $transaction: <R>(work: (tx: Tx) => Promise<R>) => Promise<R> }

/**
 * Runs `work` in a transaction and writes the events `eventsOf` makes from its
 * result in the same transaction: they are published if and only if the work
 * commits. `eventsOf` returning nothing (a no-op change) writes nothing.
 */
export async function transactionWithEvents<Tx extends RawSqlTransaction, R> (
  db: TransactionRunner<Tx>,
  schema: string,
  work: (tx: Tx) => Promise<R>,
  eventsOf: (result: R) => readonly HoloEvent[]
): Promise<R> {
  return await db.$transaction(async (tx) => {
    const result = await work(tx)
    await writeEvents(tx, eventsOf(result), schema)
    return result
  })
}

type ProducerConfig = Static<TObject<ReturnType<typeof eventsProducerEnv>>> & {
  DATABASE_URL: string
  DATABASE_SCHEMA: string
}

/**
 * Runs the service's relay while the app runs: started when the app is ready
 * (so it logs and counts through the app), stopped when it closes, before the
 * Redis client it duplicates.
 */
export function relayOutbox (app: FastifyInstance, config: ProducerConfig, redis: Redis): void {
  let stop: (() => Promise<void>) | undefined
  app.addHook('onReady', async () => {
    const relay = await startRelay({
      pool: config.DATABASE_URL,
      schema: config.DATABASE_SCHEMA,
      redis,
      log: app.log,
      metrics: app.metrics,
      ...relaySettings(config)
    })
    stop = async () => { await relay.stop() }
  })
  app.addHook('onClose', async () => { await stop?.() })
}
