// The consuming side of the event-bus scenarios (events-bench.ts), in a process of its own as a consuming service
// (audit, analytics) is: a real consumer group (startConsumer) with effect-once in PostgreSQL (postgresApplied) and
// a trivial effect (one INSERT) in the same transaction. It reports to the bench process over IPC when each effect
// committed, on the machine's clock (performance.timeOrigin + performance.now(), sub-millisecond and comparable
// between the two processes).
//
// It also measures the consumer's baseline: the same transactions (BEGIN, the applied_events INSERT, the effect,
// COMMIT) run straight on PostgreSQL at the same concurrency, without Redis or the runtime: what PostgreSQL allows
// an effect-once consumer on this machine, against which the bus's rate is a ratio.
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { Redis } from 'ioredis'
import { postgresApplied, startConsumer, type Consumer, type EffectOnce } from '../../packages/events/src/index.js'

export interface ConsumerConfig {
  redisUrl: string
  databaseUrl: string
  /** Schema of applied_events and the effects table. */
  schema: string
  streams: string[]
  streamPrefix: string
  group: string
  concurrency: number
  batchSize: number
}

export type ToConsumer =
  | { cmd: 'start', config: ConsumerConfig }
  | { cmd: 'stop' }
  | { cmd: 'baseline', config: ConsumerConfig, count: number }

export type FromConsumer =
  | { type: 'ready' }
  | { type: 'progress', applied: number, lastAt: number }
  /** Per applied event: id, when its effect committed, its `time` attribute (ms since the epoch). */
  | { type: 'stopped', effects: Array<[string, number, number]> }
  /** perSec as the consumer commits (synchronous_commit on); asyncPerSec the same without waiting for the WAL flush. */
  /** batchedPerSec: the same statements per event, but 100 events per transaction (one BEGIN and COMMIT). */
  | { type: 'baseline', perSec: number, asyncPerSec: number, batchedPerSec: number, count: number, seconds: number }
  | { type: 'error', message: string }

const clock = (): number => performance.timeOrigin + performance.now()
const send = (m: FromConsumer): void => { process.send?.(m) }

let consumer: Consumer | undefined
let pool: pg.Pool | undefined
let redis: Redis | undefined
let progress: NodeJS.Timeout | undefined
const effects: Array<[string, number, number]> = []

const newPool = (c: ConsumerConfig): pg.Pool => {
  const p = new pg.Pool({ connectionString: c.databaseUrl, max: c.concurrency + 2 })
  p.on('error', () => {})
  return p
}

async function start (c: ConsumerConfig): Promise<void> {
  pool = newPool(c)
  redis = new Redis(c.redisUrl)
  const inner = postgresApplied(pool, { schema: c.schema })
  // postgresApplied as it is (a read batch in one transaction); only the instant each effect committed is noted.
  const note = (eventId: string, at: number): void => {
    effects.push([eventId, at, times.get(eventId) ?? 0])
    times.delete(eventId)
  }
  const applied: EffectOnce = {
    run: async (group, eventId, effect) => {
      const ran = await inner.run(group, eventId, effect)
      if (ran) note(eventId, clock())
      return ran
    },
    batch: async (group, fn) => {
      const ran: string[] = []
      const result = await inner.batch!(group, async (run) => await fn(async (eventId, effect) => {
        const did = await run(eventId, effect)
        if (did) ran.push(eventId)
        return did
      }))
      const at = clock()
      for (const eventId of ran) note(eventId, at)
      return result
    }
  }
  const times = new Map<string, number>()
  const effect = `INSERT INTO ${pg.escapeIdentifier(c.schema)}.effects (event_id, subject) VALUES ($1, $2)`
  consumer = await startConsumer({
    redis,
    streams: c.streams,
    streamPrefix: c.streamPrefix,
    group: c.group,
    applied,
    concurrency: c.concurrency,
    batchSize: c.batchSize,
    handle: async (event, tx) => {
      await tx?.query(effect, [event.id, event.subject])
      times.set(event.id, Date.parse(event.time))
    }
  })
  progress = setInterval(() => {
    send({ type: 'progress', applied: effects.length, lastAt: effects[effects.length - 1]?.[1] ?? 0 })
  }, 50)
  send({ type: 'ready' })
}

async function stop (): Promise<void> {
  clearInterval(progress)
  await consumer?.stop()
  redis?.disconnect()
  await pool?.end()
  send({ type: 'stopped', effects })
}

/** The consumer's transactions straight on PostgreSQL, `concurrency` at a time. */
async function baseline (c: ConsumerConfig, count: number): Promise<void> {
  const synced = await rate(c, count, false, 1)
  // The same with synchronous_commit off (the COMMIT does not wait for the WAL flush): how much of a transaction
  // is the flush. Evidence only; the bus's consumer commits synchronously, as it must before its XACK.
  const unsynced = await rate(c, Math.round(count / 2), true, 1)
  // And with a read batch's events in one transaction (what a batched effect-once would commit).
  const batched = await rate(c, count, false, 100)
  send({
    type: 'baseline',
    perSec: synced.perSec,
    asyncPerSec: unsynced.perSec,
    batchedPerSec: batched.perSec,
    count,
    seconds: synced.seconds
  })
}

async function rate (
  c: ConsumerConfig, count: number, async: boolean, perTx: number
): Promise<{ perSec: number, seconds: number }> {
  const p = newPool(c)
  const schema = pg.escapeIdentifier(c.schema)
  const one = async (client: pg.PoolClient): Promise<void> => {
    await client.query(async ? 'BEGIN; SET LOCAL synchronous_commit TO off' : 'BEGIN')
    for (let i = 0; i < perTx; i++) {
      const id = randomUUID()
      await client.query(`INSERT INTO ${schema}.applied_events (consumer_group, event_id) VALUES ($1, $2)
         ON CONFLICT DO NOTHING`, [c.group, id])
      await client.query(`INSERT INTO ${schema}.effects (event_id, subject) VALUES ($1, $2)`, [id, id])
    }
    await client.query('COMMIT')
  }
  // Warm the connections and the statements first.
  const clients = await Promise.all(Array.from({ length: c.concurrency }, async () => await p.connect()))
  for (const client of clients) for (let i = 0; i < Math.ceil(50 / perTx); i++) await one(client)
  let next = 0
  const t0 = clock()
  await Promise.all(clients.map(async (client) => {
    while (next < count) {
      next += perTx
      await one(client)
    }
  }))
  const seconds = (clock() - t0) / 1000
  for (const client of clients) client.release()
  await p.end()
  return { perSec: Math.round(count / seconds), seconds }
}

process.on('message', (m: ToConsumer) => {
  const run = m.cmd === 'start' ? start(m.config) : m.cmd === 'stop' ? stop() : baseline(m.config, m.count)
  run.catch((err: unknown) => { send({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) }) })
})
