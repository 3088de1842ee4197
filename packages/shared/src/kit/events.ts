// How a producing service (auth, card, file) publishes: events made in the
// service layer carry the request they came from, repositories write them in
// the change's own transaction, and the service's relay moves them to Redis.
// The bus itself is @holo/events; docs/events.md is its guide.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import {
  makeEvent, relaySettings, startRelay, writeOutbox,
  type EventType, type HoloEvent, type MakeEventInput, type Relay, type eventsProducerEnv
} from '@holo/events'
import type { Static, TObject } from 'typebox'

/** Where a request came from, as events record it. */
export interface RequestOrigin { requestId?: string, traceparent?: string, ip?: string }

const origins = new AsyncLocalStorage<RequestOrigin>()
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/

/**
 * Remembers each request's id, trace context and client address for the
 * events made while it is handled. Producers only (relayOutbox registers it):
 * on Node 20 an AsyncLocalStorage in use puts a hook on every promise of the
 * process, a cost the consumers, which make no events, need not pay.
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

/** Transactions that wrote events: the producing client wakes the relays after they commit. */
const wroteEvents = new WeakSet<object>()

/**
 * Writes events to the service's outbox inside a Prisma transaction (see
 * writeOutbox). Run it in a transaction of the client `relayOutbox` returned:
 * that one wakes the relays once the transaction committed.
 */
export async function writeEvents (
  tx: RawSqlTransaction,
  events: readonly HoloEvent[],
  schema: string
): Promise<void> {
  await writeOutbox(async (sql, params) => await tx.$executeRawUnsafe(sql, ...params), events, { schema })
  if (events.length > 0) wroteEvents.add(tx)
}

/**
 * The Prisma client `prisma`, except that an interactive `$transaction` whose
 * work wrote events (`writeEvents`, `transactionWithEvents`) calls `wake()`
 * once it committed: nothing in the transaction itself notifies anybody. The
 * array form and everything else go to `prisma` untouched.
 */
export function wakingClient<C extends object> (prisma: C, wake: () => void): C {
  const client = wakingProxy(prisma, wake)
  wakers.set(client, wake)
  return client
}

const wakers = new WeakMap<object, () => void>()

/**
 * For a statement that wrote outbox rows outside an interactive transaction (one autocommit
 * statement, like a card like): wakes the relays after it, as a transaction's commit would.
 * A client that is not a waking one (a CLI) has nothing to wake: its rows wait for a relay's poll.
 */
export function eventsCommitted (prisma: object): void {
  wakers.get(prisma)?.()
}

function wakingProxy<C extends object> (prisma: C, wake: () => void): C {
  const $transaction = async (work: unknown, ...rest: unknown[]): Promise<unknown> => {
    const run = Reflect.get(prisma, '$transaction') as (work: unknown, ...rest: unknown[]) => Promise<unknown>
    if (typeof work !== 'function') return await run.call(prisma, work, ...rest)
    let used: unknown
    const result = await run.call(prisma, async (tx: unknown) => {
      used = tx
      return await (work as (tx: unknown) => Promise<unknown>)(tx)
    }, ...rest)
    if (typeof used === 'object' && used !== null && wroteEvents.has(used)) wake()
    return result
  }
  return new Proxy(prisma, {
    get (target, key) {
      if (key === '$transaction') return $transaction
      const value: unknown = Reflect.get(target, key)
      // Prisma's methods run on the client itself (model delegates are objects and pass as they are).
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    }
  })
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
 * Makes the app a producer: tracks each request's origin for its events
 * (trackRequestOrigins) and runs the service's relay while the app runs: started when the app is ready
 * (so it logs and counts through the app), stopped when it closes, before the
 * Redis client it duplicates.
 *
 * Returns `prisma` wrapped (`wakingClient`): give that one to the
 * repositories. A transaction of it that wrote events wakes this process's
 * relay directly once it committed, and the other instances' relays with one
 * coalesced `pg_notify` sent outside the transaction (`Relay.wake`). Commits
 * before the relay started are published by its first pass.
 */
export function relayOutbox<C extends object> (
  app: FastifyInstance, config: ProducerConfig, redis: Redis, prisma: C
): C {
  trackRequestOrigins(app)
  let relay: Relay | undefined
  app.addHook('onReady', async () => {
    relay = await startRelay({
      pool: config.DATABASE_URL,
      schema: config.DATABASE_SCHEMA,
      redis,
      log: app.log,
      metrics: app.metrics,
      ...relaySettings(config)
    })
  })
  app.addHook('onClose', async () => {
    const running = relay
    relay = undefined
    await running?.stop()
  })
  return wakingClient(prisma, () => { relay?.wake() })
}
