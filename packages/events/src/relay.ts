// The relay: moves a producer's outbox rows to its Redis stream, in order,
// once in normal operation, however many instances of the service run.
//
// Each pass runs in one PostgreSQL transaction holding an advisory lock per
// schema (so only one instance publishes at a time and the stream receives the
// rows in outbox order), takes a batch of unsent rows and marks them sent in
// one statement, XADDs them in one MULTI and commits. If Redis or the commit
// fails the transaction rolls back: the rows stay unsent and the next pass
// publishes them again (a Redis that took a batch whose commit then failed
// sees it twice: consumers deduplicate by id).
//
// Wake-ups: the producer calls `wake()` after its commit returns. Its own relay
// runs a pass at once (no round trip); the relays of the other instances hear
// one `pg_notify` sent outside any data transaction, coalesced (one in flight,
// commits meanwhile cause one more). A NOTIFY inside the producer's transaction
// would take PostgreSQL's database-wide notify lock through the commit's WAL
// flush, serialising every producing commit. A pass that finds another
// instance's pass running retries shortly, since that pass may have begun
// before the commit; the safety poll covers a wake-up lost anyway.
import { randomUUID } from 'node:crypto'
import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { Redis } from 'ioredis'
import type { Registry } from 'prom-client'
import { PRODUCERS } from './catalogue.js'
import { eventIdFloor } from './envelope.js'
import {
  collectedGauge, counter, errorMessage, exponential, histogram, pause, silentLogger, type EventsLogger
} from './observe.js'
import { outboxChannel, qualified, type Queryable } from './outbox.js'
import { busConnection, closeConnection, DEFAULT_STREAM_PREFIX } from './redis.js'
import { inTransaction, preparedQuery } from './pg.js'

export const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000

/** First key of the relays' advisory locks ("Holo" in ASCII); the second is hashtext(schema). */
const LOCK_NAMESPACE = 0x486f6c6f

export interface RelayOptions {
  /** The producer's database: a pool (one connection is held for LISTEN) or a URL (the relay makes a pool of 3). */
  pool: pg.Pool | string
  /** The producer's schema, where its outbox is. */
  schema: string
  /** The service's Redis client; the relay duplicates it into a connection of its own. */
  redis: Redis
  /** Stream names are prefix + producer (`events.card`); tests use a unique prefix. */
  streamPrefix?: string
  /** How long events stay in the stream (XADD MINID ~) and sent rows in the outbox; default 7 days. */
  retentionMs?: number
  /** Rows per pass (one MULTI); default 500. */
  batchSize?: number
  /** Safety poll when no notification came (a lost LISTEN connection, a missed wake-up); default 1 s. */
  pollIntervalMs?: number
  /** When a pass found another instance's pass running: try again after this long; default 25 ms. */
  busyRetryMs?: number
  /** How often sent rows older than the retention are deleted; default 1 min. */
  cleanupIntervalMs?: number
  /** Backoff after a failed pass: from retryBaseMs, doubling, up to retryMaxMs (defaults 100 ms, 5 s). */
  retryBaseMs?: number
  retryMaxMs?: number
  log?: EventsLogger
  /** When given: events_published_total, events_publish_latency_seconds, events_outbox_backlog, ... */
  metrics?: Registry
}

export interface Relay {
  /**
   * Call after a commit that wrote events: this relay runs a pass at once and
   * the other instances' relays are notified (one coalesced `pg_notify` on the
   * relay's pool, outside any data transaction). Never blocks, never throws.
   */
  wake: () => void
  /** Finishes the pass in flight, then closes the relay's connections (and its pool if it made it). */
  stop: () => Promise<void>
  /** Publishes again the sent rows created since `since` (after a Redis data loss); returns how many. */
  republish: (options: { since: Date, until?: Date }) => Promise<number>
  /** Deletes sent rows older than the retention now (it also runs every cleanupIntervalMs). */
  cleanup: () => Promise<number>
}

export interface OutboxWakerOptions {
  /** Where the notification is sent from: a pool (it borrows a connection for a moment) or a client. */
  pool: Queryable
  schema: string
  /** The notification's payload; a relay ignores the ones carrying its own. Default ''. */
  payload?: string
  /** Least time between two notifications (the first of a quiet period goes at once); default 20 ms. */
  minIntervalMs?: number
  log?: EventsLogger
}

export interface OutboxWaker {
  /**
   * Notifies every relay LISTENing on the schema's channel. Fire-and-forget
   * and coalesced: at most one notification in flight; calls while it is in
   * flight cause exactly one more after it. Errors are logged at debug (the
   * relays' safety poll covers a lost wake-up).
   */
  wake: () => void
  /** Resolves once no notification is in flight. */
  settled: () => Promise<void>
}

/**
 * Wakes a schema's relays from anywhere with `SELECT pg_notify('outbox_<schema>', …)`
 * in a transaction of its own: for a writer that runs no relay itself. A relay's
 * `wake()` does this and wakes the relay itself too.
 */
export function outboxWaker (options: OutboxWakerOptions): OutboxWaker {
  const log = options.log ?? silentLogger
  const params = [outboxChannel(options.schema), options.payload ?? '']
  // Each notification is a small commit of its own (PostgreSQL gives it a transaction id and a
  // WAL flush): under load, wake-ups at most every minIntervalMs, not one per producer commit.
  const minIntervalMs = options.minIntervalMs ?? 20
  let inFlight: Promise<void> | undefined
  let again = false
  const send = async (): Promise<void> => {
    do {
      again = false
      const started = performance.now()
      try {
        await options.pool.query('SELECT pg_notify($1, $2)', params)
      } catch (err) {
        log.debug({ schema: options.schema, err: errorMessage(err) }, 'events: relay wake-up not sent (the poll covers it)')
      }
      const wait = minIntervalMs - (performance.now() - started)
      if (again && wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    } while (again)
    inFlight = undefined
  }
  return {
    wake: () => {
      if (inFlight !== undefined) { again = true; return }
      inFlight = send()
    },
    settled: async () => { await inFlight }
  }
}

interface Publisher {
  pool: pg.Pool
  redis: Redis
  schema: string
  table: string
  prefix: string
  retentionMs: number
  batchSize: number
  published?: (stream: string, count: number, ages: number[]) => void
}

interface OutboxRow { id: string, stream: string, payload: string, age: number }

/** Outbox order: what a pass publishes goes to the streams in it. */
const inOutboxOrder = (a: OutboxRow & { at: string }, b: OutboxRow & { at: string }): number =>
  a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0

async function xadd (p: Publisher, rows: OutboxRow[]): Promise<void> {
  // Entries older than the retention go as the stream grows (MINID ~: whole
  // nodes only, cheap); a stream that receives nothing keeps what it has.
  const minId = `${Math.max(0, Date.now() - p.retentionMs)}-0`
  const multi = p.redis.multi()
  for (const row of rows) multi.xadd(p.prefix + row.stream, 'MINID', '~', minId, '*', 'event', row.payload)
  const replies = await multi.exec()
  if (replies === null) throw new Error('Redis discarded the publishing transaction')
  for (const [err] of replies) if (err !== null) throw err
}

const lockSql = (wait: boolean): string =>
  `SELECT ${wait ? 'pg_advisory_xact_lock' : 'pg_try_advisory_xact_lock'}($1, hashtext($2))${wait ? '' : ' AS ok'}`

/**
 * The pass's lock, and its commit made asynchronous (`synchronous_commit` off for this transaction only): the
 * commit does not wait for its WAL flush, which every producer's own commit is already waiting on. Its only
 * write is the rows' sent mark; a PostgreSQL crash that loses it leaves the rows unsent, and the next pass
 * publishes them again, which the bus allows anyway (consumers deduplicate by id). A later synchronous commit
 * flushes the WAL up to itself, the mark included, so a mark is never lost behind a write that survived.
 */
const passLockSql = `SELECT set_config('synchronous_commit', 'off', true),
  pg_try_advisory_xact_lock($1, hashtext($2)) AS ok`

/** One pass: publishes up to batchSize unsent rows. `busy` when another instance holds the lock. */
async function publishPass (p: Publisher): Promise<{ published: number, full: boolean, busy: boolean }> {
  return await inTransaction(p.pool, async (client) => {
    const lock = await preparedQuery<{ ok: boolean }>(client, passLockSql, [LOCK_NAMESPACE, p.schema])
    if (lock.rows[0]?.ok !== true) return { published: 0, full: false, busy: true }
    // The rows are marked sent by the statement that takes them (one round trip less); a failed XADD rolls the
    // mark back with the transaction. SKIP LOCKED is belt and braces: under the advisory lock nobody else locks
    // these rows. RETURNING keeps no order: the rows are sorted here (created_at as text keeps microseconds).
    const taken = await preparedQuery<OutboxRow & { at: string }>(client,
      `UPDATE ${p.table} o SET sent_at = now() FROM (
         SELECT id FROM ${p.table} WHERE sent_at IS NULL ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) n
       WHERE o.id = n.id
       RETURNING o.id, o.stream, o.payload::text AS payload, to_char(o.created_at AT TIME ZONE 'UTC',
         'YYYY-MM-DD HH24:MI:SS.US') AS at, extract(epoch FROM clock_timestamp() - o.created_at)::float8 AS age`,
      [p.batchSize]
    )
    const rows = taken.rows.sort(inOutboxOrder)
    if (rows.length === 0) return { published: 0, full: false, busy: false }
    const started = performance.now()
    await xadd(p, rows)
    if (p.published !== undefined) {
      const took = (performance.now() - started) / 1000
      const byStream = new Map<string, number[]>()
      for (const r of rows) byStream.set(r.stream, [...(byStream.get(r.stream) ?? []), r.age + took])
      for (const [stream, ages] of byStream) p.published(p.prefix + stream, ages.length, ages)
    }
    return { published: rows.length, full: rows.length === p.batchSize, busy: false }
  })
}

async function republishRows (p: Publisher, since: Date, until: Date | undefined): Promise<number> {
  // The id range (a UUIDv7 is made around its transaction's start, give or take
  // a minute) lets the primary key find the rows; created_at decides exactly.
  let after = eventIdFloor(since.getTime() - 60_000)
  let total = 0
  for (;;) {
    // Waits for the relay's pass in flight, so a batch never interleaves with new events.
    const count = await inTransaction(p.pool, async (client) => {
      await client.query(lockSql(true), [LOCK_NAMESPACE, p.schema])
      const { rows } = await client.query<OutboxRow>(
        `SELECT id, stream, payload::text AS payload, 0::float8 AS age FROM ${p.table}
         WHERE sent_at IS NOT NULL AND id > $1 AND created_at >= $2 AND ($3::timestamptz IS NULL OR created_at < $3)
         ORDER BY id LIMIT $4`,
        [after, since, until ?? null, p.batchSize]
      )
      if (rows.length > 0) {
        await xadd(p, rows)
        after = rows[rows.length - 1]?.id ?? after
      }
      return rows.length
    })
    total += count
    if (count < p.batchSize) return total
  }
}

async function deleteExpired (p: Publisher): Promise<number> {
  const floor = eventIdFloor(Date.now() - p.retentionMs)
  let total = 0
  // Small batches keep each DELETE short; the bound keeps one run finite.
  for (let i = 0; i < 100; i++) {
    const res = await p.pool.query(
      `DELETE FROM ${p.table} WHERE id IN (
         SELECT id FROM ${p.table} WHERE id < $1 AND sent_at IS NOT NULL ORDER BY id LIMIT 1000)`,
      [floor]
    )
    total += res.rowCount ?? 0
    if ((res.rowCount ?? 0) < 1000) break
  }
  return total
}

function publisher (pool: pg.Pool, redis: Redis, o: {
  schema: string, streamPrefix?: string, retentionMs?: number, batchSize?: number
}): Publisher {
  return {
    pool,
    redis,
    schema: o.schema,
    table: qualified(o.schema, 'outbox'),
    prefix: o.streamPrefix ?? DEFAULT_STREAM_PREFIX,
    retentionMs: o.retentionMs ?? DEFAULT_RETENTION_MS,
    batchSize: o.batchSize ?? 500
  }
}

function ownPool (pool: pg.Pool | string, log: EventsLogger): { pool: pg.Pool, owned: boolean } {
  if (typeof pool !== 'string') return { pool, owned: false }
  const made = new pg.Pool({ connectionString: pool, max: 3, connectionTimeoutMillis: 5000 })
  made.on('error', (err) => { log.warn({ err: errorMessage(err) }, 'events relay: idle database connection lost') })
  return { pool: made, owned: true }
}

/**
 * Starts the relay of one producer's outbox: LISTEN for prompt wake-ups, a slow
 * safety poll, backoff while PostgreSQL or Redis is down, periodic cleanup.
 */
export async function startRelay (options: RelayOptions): Promise<Relay> {
  const log = options.log ?? silentLogger
  const { pool, owned } = ownPool(options.pool, log)
  const redis = await busConnection(options.redis, `holo-events-relay-${options.schema}`)
  const p = publisher(pool, redis, options)
  const pollMs = options.pollIntervalMs ?? 1000
  const busyRetryMs = options.busyRetryMs ?? 25
  const backoff = exponential(options.retryBaseMs ?? 100, options.retryMaxMs ?? 5000)
  const stopping = new AbortController()
  const { signal } = stopping
  const unregister: Array<() => void> = []

  let failures: { inc: () => void } | undefined
  if (options.metrics !== undefined) {
    const registry = options.metrics
    const published = counter(registry, 'events_published_total', 'Events the outbox relay published, by stream', [
      'stream'
    ] as const)
    const latency = histogram(registry, 'events_publish_latency_seconds',
      'From an event\'s insert into the outbox to its XADD being acknowledged', ['stream'] as const)
    const failed = counter(registry, 'events_relay_failures_total',
      'Relay passes that failed (PostgreSQL or Redis unavailable), by schema', ['schema'] as const)
    failures = { inc: () => { failed.inc({ schema: p.schema }) } }
    p.published = (stream, count, ages) => {
      published.inc({ stream }, count)
      for (const age of ages) latency.observe({ stream }, age)
    }
    // One query answers both gauges of a scrape.
    let snapshot: { at: number, value: Promise<{ n: number, age: number }> } | undefined
    const backlog = async (): Promise<{ n: number, age: number }> => {
      if (snapshot === undefined || Date.now() - snapshot.at > 1000) {
        snapshot = {
          at: Date.now(),
          value: pool.query<{ n: number, age: number }>(
            `SELECT count(*)::int AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS age
             FROM ${p.table} WHERE sent_at IS NULL`
          ).then((r) => r.rows[0] ?? { n: 0, age: 0 })
        }
      }
      return await snapshot.value
    }
    const labels = { schema: p.schema }
    unregister.push(
      collectedGauge(registry, 'events_outbox_backlog', 'Events waiting in the outbox', ['schema'] as const,
        async () => [{ labels, value: (await backlog()).n }]),
      collectedGauge(registry, 'events_outbox_oldest_unsent_seconds',
        'Age of the oldest unsent event in the outbox (0 when none)', ['schema'] as const,
        async () => [{ labels, value: (await backlog()).age }])
    )
  }

  // A wake-up (the producer's, a notification or the poll) marks the outbox
  // dirty and wakes the loop; one arriving during a pass makes the loop run
  // again right after it.
  let dirty = true
  let wakeUp: (() => void) | undefined
  const poke = (): void => { dirty = true; wakeUp?.() }
  const idle = async (ms: number): Promise<void> => {
    if (dirty || signal.aborted) return
    await new Promise<void>((resolve) => {
      const done = (): void => { clearTimeout(timer); wakeUp = undefined; resolve() }
      const timer = setTimeout(() => { dirty = true; done() }, ms)
      wakeUp = done
    })
  }
  signal.addEventListener('abort', () => { wakeUp?.() }, { once: true })

  const channel = outboxChannel(p.schema)
  // The payload of this relay's own notifications, which its LISTEN ignores (it was woken directly).
  const self = randomUUID()
  const others = outboxWaker({ pool, schema: p.schema, payload: self, log })
  const aborted = new Promise<void>((resolve) => {
    signal.addEventListener('abort', () => { resolve() }, { once: true })
  })
  const listening = (async () => {
    let attempt = 0
    while (!signal.aborted) {
      let client: pg.PoolClient | undefined
      try {
        client = await pool.connect()
        const held = client
        const lost = new Promise<void>((resolve) => {
          held.on('error', () => { resolve() })
          held.once('end', () => { resolve() })
        })
        held.on('notification', (msg) => { if (msg.channel === channel && msg.payload !== self) poke() })
        await held.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
        if (attempt > 0) log.info({ schema: p.schema }, 'events relay: listening again')
        attempt = 0
        poke() // rows committed while nobody listened
        await Promise.race([lost, aborted])
      } catch (err) {
        if (!signal.aborted && attempt === 0) {
          log.warn({ schema: p.schema, err: errorMessage(err) },
            'events relay: LISTEN connection lost, polling meanwhile')
        }
      } finally {
        // A LISTENing connection never goes back to the pool.
        client?.release(true)
      }
      attempt++
      await pause(backoff(attempt), signal)
    }
  })()

  const running = (async () => {
    let failed = 0
    let wait = pollMs
    while (!signal.aborted) {
      await idle(wait)
      wait = pollMs
      if (signal.aborted) break
      dirty = false
      try {
        const pass = await publishPass(p)
        if (failed > 0) log.info({ schema: p.schema, after: failed }, 'events relay: publishing again')
        failed = 0
        if (pass.full) dirty = true
        // Another instance's pass may have begun before the commit that woke
        // this one, and miss its rows: look again shortly rather than at the poll.
        if (pass.busy) wait = busyRetryMs
      } catch (err) {
        failed++
        failures?.inc()
        // The first failure is news; the rest of an outage is not.
        if (failed === 1) {
          log.warn({ schema: p.schema, err: errorMessage(err) }, 'events relay: publishing failed, rows wait')
        } else log.debug({ schema: p.schema, err: errorMessage(err), failed }, 'events relay: still failing')
        dirty = true
        await pause(backoff(failed), signal)
      }
    }
  })()

  const cleanup = async (): Promise<number> => {
    const n = await deleteExpired(p)
    if (n > 0) log.debug({ schema: p.schema, deleted: n }, 'events relay: expired rows deleted')
    return n
  }
  const cleaning = setInterval(() => {
    cleanup().catch((err: unknown) => { log.warn({ err: errorMessage(err) }, 'events relay: cleanup failed') })
  }, options.cleanupIntervalMs ?? 60_000)
  cleaning.unref()

  return {
    wake: () => {
      if (signal.aborted) return
      poke()
      others.wake()
    },
    stop: async () => {
      if (signal.aborted) return
      stopping.abort()
      clearInterval(cleaning)
      for (const u of unregister) u()
      await Promise.all([running, listening, others.settled()])
      await closeConnection(redis)
      if (owned) await pool.end()
    },
    republish: async ({ since, until }) => await republishRows(p, since, until),
    cleanup
  }
}

export interface RepublishOptions {
  pool: pg.Pool | string
  schema: string
  redis: Redis
  since: Date
  until?: Date
  streamPrefix?: string
  retentionMs?: number
  batchSize?: number
}

/** Publishes again the sent rows of one outbox created since `since`, without a running relay. */
export async function republish (options: RepublishOptions): Promise<number> {
  const { pool, owned } = ownPool(options.pool, silentLogger)
  const redis = await busConnection(options.redis, `holo-events-republish-${options.schema}`)
  try {
    return await republishRows(publisher(pool, redis, options), options.since, options.until)
  } finally {
    await closeConnection(redis)
    if (owned) await pool.end()
  }
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** An RFC 3339 time, or a duration back from now (`90m`, `2h`, `3d`). */
export function parseSince (value: string, now = Date.now()): Date | undefined {
  const ago = /^(\d+)([smhd])$/.exec(value)
  if (ago !== null) return new Date(now - Number(ago[1]) * (UNITS[ago[2] ?? 's'] ?? 1000))
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined
  const t = Date.parse(value)
  return Number.isNaN(t) ? undefined : new Date(t)
}

const USAGE = `usage: events:republish --since <RFC 3339 time | 90m | 2h | 3d> [--until <time>]
  [--schema auth,card,file,billing] [--database-url URL] [--redis-url URL] [--stream-prefix events.]
Publishes again the events each outbox sent since that time (after a Redis data loss).
Consumers apply each event once, so publishing too much is harmless; too little is not.
Defaults: DATABASE_URL (else DATABASE_ADMIN_URL), REDIS_URL, EVENTS_STREAM_PREFIX, DATABASE_SCHEMA (else all three).`

/**
 * The `pnpm events:republish` command: parses argv, republishes each schema's
 * outbox and reports. Returns the exit code (0 done, 1 failed, 2 bad usage).
 */
export async function republishCli (
  argv: string[],
  env: Record<string, string | undefined> = {},
  out: (line: string) => void = () => {}
): Promise<number> {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: argv,
      options: {
        since: { type: 'string' },
        until: { type: 'string' },
        schema: { type: 'string' },
        'database-url': { type: 'string' },
        'redis-url': { type: 'string' },
        'stream-prefix': { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      },
      strict: true
    }).values
  } catch (err) {
    out(`${errorMessage(err)}\n${USAGE}`)
    return 2
  }
  if (values.help === true) { out(USAGE); return 0 }
  const since = typeof values.since === 'string' ? parseSince(values.since) : undefined
  const until = typeof values.until === 'string' ? parseSince(values.until) : undefined
  if (since === undefined || (typeof values.until === 'string' && until === undefined)) {
    out(`--since (and --until) take an RFC 3339 time or a duration such as 2h\n${USAGE}`)
    return 2
  }
  const str = (v: string | boolean | undefined): string | undefined => typeof v === 'string' && v !== '' ? v : undefined
  const schemas = (str(values.schema) ?? env.DATABASE_SCHEMA ?? Object.keys(PRODUCERS).join(',')).split(',').map((s) => s.trim())
    .filter((s) => s !== '')
  const databaseUrl = str(values['database-url']) ?? env.DATABASE_URL ?? env.DATABASE_ADMIN_URL ??
    'postgresql://postgres@127.0.0.1:5432/holo'
  const redis = new Redis(str(values['redis-url']) ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    lazyConnect: true, maxRetriesPerRequest: 1
  })
  redis.on('error', () => {})
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 })
  pool.on('error', () => {})
  const prefix = str(values['stream-prefix']) ?? env.EVENTS_STREAM_PREFIX ?? DEFAULT_STREAM_PREFIX
  try {
    for (const schema of schemas) {
      const n = await republish({
        pool, redis, schema, since, ...(until === undefined ? {} : { until }), streamPrefix: prefix
      })
      out(`${schema}: republished ${n} event${n === 1 ? '' : 's'} created since ${since.toISOString()}`)
    }
    return 0
  } catch (err) {
    out(`republish failed: ${errorMessage(err)}`)
    return 1
  } finally {
    redis.disconnect()
    await pool.end()
  }
}
