// Outbox and relay against real PostgreSQL and Redis: nothing published for a
// rolled-back transaction; committed rows published promptly (the writer's
// wake-up after its commit, heard through LISTEN), in order, once, with two
// relays at once; no NOTIFY inside a producer's transaction; a pass that finds
// another's running looks again shortly; a Redis outage where rows wait and
// all arrive afterwards; republish after a Redis data loss; cleanup; metrics.
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { v7 } from 'uuid'
import { testRedisUrl } from '@holo/infra/testing'
import {
  InvalidEventError, makeEvent, outboxChannel, outboxWaker, republishCli, startRelay, writeOutbox,
  type HoloEvent, type OutboxWaker, type Relay
} from '../src/index.js'
import { client, eventually, ownRedis, sharedRedis, sleep, streamEvents, testDb, watchStatements } from './helpers.js'

const db = await testDb(t)
const pool = db.pool(10)

const liked = (card: string, likeCount = 1): HoloEvent => makeEvent('holo.card.liked.v1', {
  subject: card, actorId: randomUUID(), data: { ownerId: randomUUID(), likeCount }
})

// The writers here run no relay of their own: they wake the schema's relays as a
// producer wakes the other instances', with a coalesced pg_notify after the commit.
const wakers = new Map<string, OutboxWaker>()
const wakerOf = (schema: string): OutboxWaker => {
  const waker = wakers.get(schema) ?? outboxWaker({ pool, schema })
  wakers.set(schema, waker)
  return waker
}
t.teardown(async () => { await Promise.all([...wakers.values()].map(async (w) => { await w.settled() })) })

/**
 * One producer transaction: the change (here, nothing) and its events,
 * committed or rolled back; after a commit the writer wakes the relays, unless
 * told not to.
 */
async function transaction (
  schema: string, events: HoloEvent[], outcome: 'commit' | 'rollback' = 'commit', { wake = true } = {}
): Promise<void> {
  const c = await pool.connect()
  try {
    await c.query('BEGIN')
    await writeOutbox(c, events, { schema })
    await c.query(outcome === 'commit' ? 'COMMIT' : 'ROLLBACK')
  } finally {
    c.release()
  }
  if (outcome === 'commit' && wake) wakerOf(schema).wake()
}

/** A connection LISTENing on the schema's outbox channel, and what it heard. */
async function listener (t: Test, schema: string): Promise<Array<{ payload: string | undefined }>> {
  const c = new pg.Client({ connectionString: db.url })
  await c.connect()
  t.teardown(async () => { await c.end() })
  const heard: Array<{ payload: string | undefined }> = []
  c.on('notification', (msg) => { if (msg.channel === outboxChannel(schema)) heard.push({ payload: msg.payload }) })
  await c.query(`LISTEN ${pg.escapeIdentifier(outboxChannel(schema))}`)
  return heard
}

async function outboxRows (schema: string): Promise<Array<{ id: string, sent: boolean }>> {
  const { rows } = await pool.query<{ id: string, sent: boolean }>(
    `SELECT id, sent_at IS NOT NULL AS sent FROM "${schema}".outbox ORDER BY created_at, id`)
  return rows
}

const ids = (events: HoloEvent[]): string[] => events.map((e) => e.id)

function relays (t: Test, ...list: Relay[]): void {
  t.teardown(async () => { await Promise.all(list.map(async (r) => { await r.stop() })) })
}

t.test('a rolled-back transaction publishes nothing; committed ones arrive at once, in order, once', async (t) => {
  const schema = await db.schema('card')
  const { redis, prefix } = await sharedRedis(t)
  const stream = `${prefix}card`
  // No safety poll within the test: only the writer's wake-up after its commit can wake them.
  const slow = { schema, redis, streamPrefix: prefix, pollIntervalMs: 600_000 }
  const one = await startRelay({ ...slow, pool: db.url })
  const two = await startRelay({ ...slow, pool: db.pool(3) })
  relays(t, one, two)

  const rolledBack = [liked(randomUUID()), liked(randomUUID())]
  await transaction(schema, rolledBack, 'rollback')
  const first = [liked(randomUUID()), liked(randomUUID()), liked(randomUUID())]
  await transaction(schema, first)
  t.ok(await eventually(async () => await redis.xlen(stream) >= 3), 'the committed events arrive (woken after the commit)')
  t.same(ids(await streamEvents(redis, stream)), ids(first), 'exactly them, in order')
  t.same((await outboxRows(schema)).map((r) => r.id), ids(first), 'the rolled-back events never reached the outbox')

  // Many small transactions, one after another, while both relays compete.
  const cards = Array.from({ length: 5 }, () => randomUUID())
  const expected = [...first]
  for (let i = 0; i < 60; i++) {
    const batch = Array.from({ length: 1 + (i % 3) }, (_, k) => liked(cards[(i + k) % cards.length] ?? '', i))
    await transaction(schema, batch)
    expected.push(...batch)
  }
  t.ok(await eventually(async () => await redis.xlen(stream) >= expected.length), `all ${expected.length} arrive`)
  const published = await streamEvents(redis, stream)
  t.same(ids(published), ids(expected), 'in commit order, each once, though two relays ran')
  t.ok(await eventually(async () => (await outboxRows(schema)).every((r) => r.sent)), 'every row is marked sent')

  const seqs = new Map<string, number[]>()
  for (const e of published) seqs.set(e.subject, [...(seqs.get(e.subject) ?? []), e.subjectseq ?? 0])
  for (const [subject, list] of seqs) {
    t.same(list, list.map((_, i) => i + 1), `${subject.slice(0, 8)}: subjectseq 1..${list.length} in stream order`)
  }
})

t.test('a producer\'s transaction notifies nobody; the wake-up after its commit does, coalesced', async (t) => {
  const schema = await db.schema('card')
  const { redis, prefix } = await sharedRedis(t)
  const stream = `${prefix}card`
  const heard = await listener(t, schema)
  const slow = { schema, redis, streamPrefix: prefix, pollIntervalMs: 600_000 }
  const local = await startRelay({ ...slow, pool: db.pool(3) })
  const remote = await startRelay({ ...slow, pool: db.pool(3) })
  relays(t, local, remote)
  // Both relays start with a pass; let them finish it (it finds nothing).
  await sleep(300)

  const quiet = [liked(randomUUID()), liked(randomUUID())]
  await transaction(schema, quiet, 'commit', { wake: false })
  await sleep(400)
  t.same(heard, [], 'the transaction that wrote events sent no NOTIFY (no trigger, no lock at commit)')
  t.equal(await redis.xlen(stream), 0, 'so no relay woke: with the poll off, nothing is published yet')
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`,
    [`"${schema}".outbox`])
  t.equal(rows[0]?.n, 0, 'the outbox has no trigger')

  // What the producing service does after the commit: wake its own relay directly, the others by pg_notify.
  const started = Date.now()
  local.wake()
  t.ok(await eventually(async () => await redis.xlen(stream) === 2, { intervalMs: 10 }), 'the rows arrive')
  t.ok(Date.now() - started < 1000, `promptly (${Date.now() - started} ms)`)
  t.same(ids(await streamEvents(redis, stream)), ids(quiet), 'in order')
  t.ok(await eventually(() => heard.length === 1, { intervalMs: 10 }), 'other instances heard one notification')

  // The wake-up reaches the other instance: with the local relay stopped, only `remote` can publish.
  await local.stop()
  const next = [liked(randomUUID())]
  await transaction(schema, next, 'commit', { wake: false })
  const waker = outboxWaker({ pool, schema })
  waker.wake()
  t.ok(await eventually(async () => await redis.xlen(stream) === 3, { intervalMs: 10 }), 'the other relay published')

  // Coalesced: many wake-ups while one is in flight make exactly one more.
  heard.length = 0
  for (let i = 0; i < 50; i++) waker.wake()
  await waker.settled()
  await sleep(100)
  t.equal(heard.length, 2, 'fifty wake-ups sent two notifications: the first, and one for those during it')
  local.wake()
  t.pass('waking a stopped relay is harmless')
})

t.test('a relay that finds another instance\'s pass running looks again shortly: no wake-up lost', async (t) => {
  const schema = await db.schema('card')
  const { redis, prefix } = await sharedRedis(t)
  const stream = `${prefix}card`
  const slow = { schema, redis, streamPrefix: prefix, pollIntervalMs: 600_000 }
  const one = await startRelay({ ...slow, pool: db.pool(3) })
  const two = await startRelay({ ...slow, pool: db.pool(3) })
  relays(t, one, two)
  await sleep(300)

  // A pass of a third instance that began before the commit: it holds the lock and will not see the row.
  const other = await pool.connect()
  t.teardown(() => { other.release() })
  await other.query('BEGIN')
  await other.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [0x486f6c6f, schema])
  const row = [liked(randomUUID())]
  await transaction(schema, row, 'commit', { wake: false })
  one.wake() // the producer's wake-up: both relays try now, and find the lock taken
  await sleep(300)
  t.equal(await redis.xlen(stream), 0, 'nothing is published while the other pass holds the lock')
  const released = Date.now()
  await other.query('COMMIT')
  t.ok(await eventually(async () => await redis.xlen(stream) === 1, { tries: 400, intervalMs: 5 }),
    'the row arrives without another wake-up (the poll is off)')
  t.ok(Date.now() - released < 500, `shortly after that pass ended (${Date.now() - released} ms)`)

  // Under a steady stream of commits from two instances, every row still arrives, in order, once.
  const expected = [...row]
  await Promise.all([one, two].map(async (relay) => {
    for (let i = 0; i < 30; i++) {
      const batch = [liked(randomUUID(), i)]
      await transaction(schema, batch, 'commit', { wake: false })
      expected.push(...batch)
      relay.wake()
    }
  }))
  t.ok(await eventually(async () => await redis.xlen(stream) >= expected.length, { intervalMs: 20 }), 'all arrive')
  t.same(new Set(ids(await streamEvents(redis, stream))), new Set(ids(expected)), 'each of them')
  t.equal(await redis.xlen(stream), expected.length, 'once')
})

t.test('concurrent writers to one entity: its events carry 1..n in commit order', async (t) => {
  const schema = await db.schema('card')
  const { redis, prefix } = await sharedRedis(t)
  const relay = await startRelay({ pool, schema, redis, streamPrefix: prefix, batchSize: 7 })
  relays(t, relay)
  const card = randomUUID()
  // Twenty writers at once, five transactions each, every one of them on the same card.
  await Promise.all(Array.from({ length: 20 }, async (_, w) => {
    for (let i = 0; i < 5; i++) await transaction(schema, [liked(card, w * 10 + i)])
  }))
  t.ok(await eventually(async () => await redis.xlen(`${prefix}card`) >= 100), 'all 100 arrive')
  const published = await streamEvents(redis, `${prefix}card`)
  t.same(published.map((e) => e.subjectseq), Array.from({ length: 100 }, (_, i) => i + 1),
    'the stream holds the card\'s events as 1..100: no gap, no repeat, none out of order')
})

t.test('a pass commits its sent marks without waiting for the WAL flush, and only its own transaction', async (t) => {
  const schema = await db.schema('card')
  const { redis, prefix } = await sharedRedis(t)
  // The relay's own pool (one connection LISTENs, one runs the passes): every statement seen is the relay's.
  const relayPool = db.pool(2)
  const seen: string[] = []
  watchStatements(relayPool, (text) => { seen.push(text) })
  const relay = await startRelay({ pool: relayPool, schema, redis, streamPrefix: prefix })
  relays(t, relay)
  await transaction(schema, [liked(randomUUID())])
  t.ok(await eventually(async () => await redis.xlen(`${prefix}card`) === 1), 'the event arrives')
  await relay.stop()
  const pass = seen.findIndex((q) => q.includes('SET sent_at'))
  t.ok(pass > 0, 'a pass marked the row sent')
  const begin = seen.lastIndexOf('BEGIN', pass)
  t.match(seen.slice(begin, pass).join('\n'), /set_config\('synchronous_commit', 'off', true\)/,
    'the pass turned synchronous commit off before its mark')
  const sessions = await Promise.all([relayPool.connect(), relayPool.connect()])
  const settings = await Promise.all(sessions.map(async (c) => (await c.query('SHOW synchronous_commit')).rows[0]))
  for (const c of sessions) c.release()
  t.same(settings, [{ synchronous_commit: 'on' }, { synchronous_commit: 'on' }],
    'the pooled connections are back to synchronous commits')
  t.same((await outboxRows(schema)).map((r) => r.sent), [true], 'the mark is committed')
})

t.test('writeOutbox runs in any driver\'s transaction and writes nothing when one event is bad', async (t) => {
  const schema = await db.schema('card')
  const c = await pool.connect()
  t.teardown(() => { c.release() })
  const good = liked(randomUUID())
  await c.query('BEGIN')
  // The shape a Prisma transaction gives: (sql, params) => tx.$executeRawUnsafe(sql, ...params).
  await writeOutbox(async (sql, params) => await c.query(sql, params), [good], { schema })
  await c.query('COMMIT')
  t.same((await outboxRows(schema)).map((r) => r.id), [good.id], 'written through an executor function')

  const bad = { ...liked(randomUUID()), data: { ownerId: 'nobody', likeCount: -1 } } as unknown as HoloEvent
  await c.query('BEGIN')
  await t.rejects(writeOutbox(c, [liked(randomUUID()), bad], { schema }), InvalidEventError, 'a bad event is refused')
  await c.query('COMMIT')
  t.equal((await outboxRows(schema)).length, 1, 'and the good event beside it was not written either')

  // Without a schema the table is found through search_path, as in a service's own connection.
  await c.query('BEGIN')
  await c.query(`SET LOCAL search_path TO "${schema}"`)
  await writeOutbox(c, [liked(randomUUID())], { subjectSequence: false })
  await c.query('COMMIT')
  const { rows } = await pool.query<{ seq: unknown }>(
    `SELECT payload->'subjectseq' AS seq FROM "${schema}".outbox ORDER BY created_at DESC LIMIT 1`)
  t.equal(rows[0]?.seq, null, 'without subject sequences the envelope has none')
})

t.test('while Redis is down rows wait; when it is back all arrive in order, none twice', async (t) => {
  const schema = await db.schema('card')
  const own = await ownRedis(t)
  const assertions = await client(t, own.url)
  const service = new Redis(own.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 })
  service.on('error', () => {})
  t.teardown(() => { service.disconnect() })
  const registry = new Registry()
  const relay = await startRelay({
    pool, schema, redis: service, streamPrefix: 'events.', retryBaseMs: 50, retryMaxMs: 300, metrics: registry
  })
  relays(t, relay)
  const stream = 'events.card'

  const before = Array.from({ length: 5 }, () => liked(randomUUID()))
  for (const e of before) await transaction(schema, [e])
  t.ok(await eventually(async () => await assertions.xlen(stream) === 5), 'published while Redis is up')

  await own.stop()
  const during = Array.from({ length: 20 }, (_, i) => liked(randomUUID(), i))
  for (const e of during) await transaction(schema, [e])
  t.pass('producers keep committing while Redis is down')
  const failures = async (): Promise<number> =>
    (await registry.getSingleMetric('events_relay_failures_total')?.get())?.values[0]?.value ?? 0
  t.ok(await eventually(async () => await failures() >= 3), 'the relay tried and failed')
  t.equal((await outboxRows(schema)).filter((r) => !r.sent).length, 20, 'the 20 events wait in the outbox')
  const backlog = await registry.getSingleMetric('events_outbox_backlog')?.get()
  t.equal(backlog?.values[0]?.value, 20, 'events_outbox_backlog says so')

  await own.start()
  t.ok(await eventually(async () => await assertions.xlen(stream) >= 25), 'every waiting event arrives')
  const published = await streamEvents(assertions, stream)
  t.same(ids(published), ids([...before, ...during]), 'in order, none twice, none lost')
  // The stream has them once Redis acknowledged; sent_at commits right after, in the relay's transaction.
  t.ok(await eventually(async () => (await outboxRows(schema)).every((r) => r.sent)), 'and the outbox is drained')
  const text = await registry.metrics()
  t.match(text, /events_published_total\{stream="events.card"\} 25/, 'events_published_total counts them')
  t.match(text, /events_publish_latency_seconds_count\{stream="events.card"\} 25/, 'publish latency observed')
  t.match(text, new RegExp(`events_outbox_oldest_unsent_seconds\\{schema="${schema}"\\} 0`), 'nothing old waits')
})

t.test('republish sends the events since a time again, after a Redis data loss', async (t) => {
  const schema = await db.schema('card')
  const { redis, prefix } = await sharedRedis(t)
  const stream = `${prefix}card`
  const relay = await startRelay({ pool, schema, redis, streamPrefix: prefix })
  relays(t, relay)
  const early = Array.from({ length: 4 }, () => liked(randomUUID()))
  await transaction(schema, early)
  t.ok(await eventually(async () => await redis.xlen(stream) === 4))
  const since = new Date()
  const late = Array.from({ length: 6 }, () => liked(randomUUID()))
  for (const e of late) await transaction(schema, [e])
  t.ok(await eventually(async () => await redis.xlen(stream) === 10))

  await redis.del(stream)
  t.equal(await relay.republish({ since }), 6, 'six rows were created since then')
  t.same(ids(await streamEvents(redis, stream)), ids(late), 'exactly those, in order')

  const out: string[] = []
  const code = await republishCli([
    '--since', since.toISOString(), '--schema', schema, '--database-url', db.url,
    '--redis-url', testRedisUrl(), '--stream-prefix', prefix
  ], {}, (line) => out.push(line))
  t.equal(code, 0, `the CLI succeeds: ${out.join(' / ')}`)
  t.match(out.join('\n'), new RegExp(`${schema}: republished 6 events`))
  t.same(ids(await streamEvents(redis, stream)), [...ids(late), ...ids(late)], 'consumers dedupe the repeats by id')
  t.equal(await republishCli(['--since', 'last tuesday'], {}, () => {}), 2, 'a time it cannot read is a usage error')
  t.equal(await republishCli([], {}, () => {}), 2, '--since is required')
})

t.test('sent rows older than the retention are deleted; newer ones stay', async (t) => {
  const schema = await db.schema('card')
  const { redis, prefix } = await sharedRedis(t)
  const relay = await startRelay({ pool, schema, redis, streamPrefix: prefix, retentionMs: 24 * 3600 * 1000 })
  relays(t, relay)
  const insert = async (id: string, sent: boolean): Promise<void> => {
    const e = { ...liked(randomUUID()), id }
    await pool.query(`INSERT INTO "${schema}".outbox (id, stream, type, subject, payload, created_at, sent_at)
      VALUES ($1, 'card', $2, $3, $4, now() - interval '2 days', ${sent ? 'now()' : 'NULL'})`,
    [id, e.type, e.subject, JSON.stringify(e)])
  }
  const old = v7({ msecs: Date.now() - 2 * 24 * 3600 * 1000 })
  await insert(old, true)
  const recent = liked(randomUUID())
  await transaction(schema, [recent])
  t.ok(await eventually(async () => (await outboxRows(schema)).every((r) => r.sent)), 'published')
  t.equal(await relay.cleanup(), 1, 'one expired row deleted')
  t.same((await outboxRows(schema)).map((r) => r.id), [recent.id], 'the recent one stays for republish')
})
