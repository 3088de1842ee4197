// The consumer runtime against real Redis and PostgreSQL: two consumers share
// the work of a relay's stream with no event applied twice; a consumer killed
// mid-batch is taken over and every event applied once; a poison event is
// dead-lettered after N attempts while later events flow, and replays after
// the fix; an event breaking its schema is dead-lettered at once; stop()
// finishes the batch in flight.
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { testRedisUrl } from '@holo/infra/testing'
import {
  eventsAdmin, InvalidEventError, makeEvent, postgresApplied, startConsumer, startRelay, withEffectOnce, withEffectsOnce,
  withTransactionState, writeOutbox,
  type Consumer, type ConsumerOptions, type HoloEvent
} from '../src/index.js'
import { eventually, ownRedis, sharedRedis, testDb, watchStatements } from './helpers.js'

const db = await testDb(t)
const pool = db.pool(12)

const liked = (card = randomUUID()): HoloEvent => makeEvent('holo.card.liked.v1', {
  subject: card, actorId: randomUUID(), data: { ownerId: randomUUID(), likeCount: 1 }
})

/** A consumer's own schema: applied_events plus an effects table that would show a double effect. */
async function consumerSchema (): Promise<string> {
  const schema = await db.schema('consumer')
  await pool.query(`CREATE TABLE "${schema}".effects (event_id uuid NOT NULL, consumer text NOT NULL)`)
  return schema
}

async function effects (schema: string): Promise<Array<{ event_id: string, consumer: string }>> {
  const { rows } = await pool.query<{ event_id: string, consumer: string }>(
    `SELECT event_id, consumer FROM "${schema}".effects`)
  return rows
}

const effectOf = (schema: string, label: string): ConsumerOptions['handle'] => async (event, tx) => {
  await tx?.query(`INSERT INTO "${schema}".effects (event_id, consumer) VALUES ($1, $2)`, [event.id, label])
}

async function consume (t: Test, options: ConsumerOptions): Promise<Consumer> {
  const consumer = await startConsumer(options)
  t.teardown(async () => { await consumer.stop() })
  return consumer
}

async function publish (redis: Redis, stream: string, events: Array<HoloEvent | string>): Promise<void> {
  for (const e of events) await redis.xadd(stream, '*', 'event', typeof e === 'string' ? e : JSON.stringify(e))
}

const counted = async (registry: Registry, outcome: string): Promise<number> =>
  ((await registry.getSingleMetric('events_consumed_total')?.get())?.values ?? [])
    .filter((v) => v.labels.outcome === outcome).reduce((sum, v) => sum + v.value, 0)

t.test('outbox → relay → two consumers of one group: all applied, none twice, both working', async (t) => {
  const producer = await db.schema('card')
  const schema = await consumerSchema()
  const { redis, prefix } = await sharedRedis(t)
  const relay = await startRelay({ pool, schema: producer, redis, streamPrefix: prefix })
  t.teardown(async () => { await relay.stop() })
  const common = {
    redis, streams: [`${prefix}card`], streamPrefix: prefix, group: 'audit', batchSize: 5,
    applied: postgresApplied(pool, { schema })
  }
  await consume(t, { ...common, consumerName: 'a', handle: effectOf(schema, 'a') })
  await consume(t, { ...common, consumerName: 'b', handle: effectOf(schema, 'b') })

  const written: HoloEvent[] = []
  for (let i = 0; i < 40; i++) {
    const events = Array.from({ length: 5 }, () => liked())
    const c = await pool.connect()
    await c.query('BEGIN')
    await writeOutbox(c, events, { schema: producer })
    await c.query('COMMIT')
    c.release()
    written.push(...events)
  }
  t.ok(await eventually(async () => (await effects(schema)).length >= 200), 'all 200 applied')
  const done = await effects(schema)
  t.equal(done.length, 200, 'no effect twice')
  t.same(new Set(done.map((e) => e.event_id)), new Set(written.map((e) => e.id)), 'each event once')
  const by = (c: string): number => done.filter((e) => e.consumer === c).length
  t.ok(by('a') > 0 && by('b') > 0, `both consumers worked (a ${by('a')}, b ${by('b')})`)
  const stats = await eventsAdmin({ redis, streamPrefix: prefix }).consumerStats('audit')
  t.match(stats, { group: 'audit', pending: 0, lag: 0, deadLetters: 0 }, 'nothing pending, no lag')
})

t.test('a consumer killed mid-batch: its open transaction rolls back, another takes its entries over and applies each '
  + 'event once', async (t) => {
  const schema = await consumerSchema()
  const { redis, prefix } = await sharedRedis(t)
  const stream = `${prefix}card`
  const events = Array.from({ length: 30 }, () => liked())
  await publish(redis, stream, events)
  // Ten of them as a consumer that committed their effects and died before its XACK would leave them.
  for (const e of events.slice(0, 10)) {
    await withEffectOnce(pool, 'analytics', e.id, async (tx) => {
      await effectOf(schema, 'earlier')(e, tx, { stream, entryId: '0-0', attempt: 1 })
    }, { schema })
  }

  const fixture = fileURLToPath(new URL('fixtures/consumer-until-killed.ts', import.meta.url))
  const child = spawn(process.execPath, ['--conditions=holo-source', '--import', 'tsx', fixture], {
    env: {
      ...process.env,
      REDIS_URL: testRedisUrl(), STREAM: stream, PREFIX: prefix, GROUP: 'analytics',
      DATABASE_URL: db.url, SCHEMA: schema, STOP_AFTER: '10'
    },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.teardown(() => { child.kill('SIGKILL') })
  // It skips the ten applied ones, applies ten more in its batch's transaction and hangs on the next, the
  // transaction open.
  const hanging = async (): Promise<boolean> => Number((await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
        AND state = 'idle in transaction' AND backend_xid IS NOT NULL AND now() - state_change > interval '300 ms'`
  )).rows[0]?.n) === 1
  t.ok(await eventually(hanging, { tries: 300 }), 'the doomed consumer hangs mid-batch, its transaction open')
  t.equal((await effects(schema)).length, 10, 'none of its batch is committed yet')
  const pending = await redis.call('XPENDING', stream, 'analytics') as [number, ...unknown[]]
  t.equal(Number(pending[0]), 30, 'it holds all 30 unacknowledged')
  child.kill('SIGKILL')
  await exited

  const registry = new Registry()
  await consume(t, {
    redis, streams: [stream], streamPrefix: prefix, group: 'analytics', consumerName: 'heir', claimIdleMs: 300,
    applied: postgresApplied(pool, { schema }), handle: effectOf(schema, 'heir'), metrics: registry
  })
  t.ok(await eventually(async () => (await effects(schema)).length >= 30), 'the heir finished the work')
  t.ok(await eventually(async () => Number((await redis.call('XPENDING', stream, 'analytics') as unknown[])[0]) === 0),
    'and acknowledged everything')
  const done = await effects(schema)
  t.equal(done.length, 30, 'every event applied exactly once')
  t.same(new Set(done.map((e) => e.event_id)), new Set(events.map((e) => e.id)))
  t.equal(done.filter((e) => e.consumer === 'doomed').length, 0, 'what the doomed one applied rolled back with it')
  t.equal(done.filter((e) => e.consumer === 'heir').length, 20)
  t.equal(await counted(registry, 'duplicate'), 10, 'the ten committed before were recognised and skipped')
  t.equal(await counted(registry, 'applied'), 20)
})

/** An effects table that keeps the order of the effects and the transaction of each. */
async function orderedSchema (): Promise<string> {
  const schema = await db.schema('consumer')
  await pool.query(`CREATE TABLE "${schema}".effects (n bigserial PRIMARY KEY, event_id uuid NOT NULL,
    subject uuid NOT NULL, seq int NOT NULL, txid bigint NOT NULL DEFAULT txid_current())`)
  return schema
}

interface Ordered { event_id: string, subject: string, seq: number, txid: string, xmin: string, applied_xmin: string }
async function ordered (schema: string): Promise<Ordered[]> {
  const { rows } = await pool.query<Ordered>(
    `SELECT e.event_id, e.subject, e.seq, e.txid::text, e.xmin::text, a.xmin::text AS applied_xmin
       FROM "${schema}".effects e LEFT JOIN "${schema}".applied_events a ON a.event_id = e.event_id ORDER BY e.n`)
  return rows
}

const orderedEffect = (schema: string, seqs: Map<string, number>): ConsumerOptions['handle'] => async (event, tx) => {
  await tx?.query(`INSERT INTO "${schema}".effects (event_id, subject, seq) VALUES ($1, $2, $3)`,
    [event.id, event.subject, seqs.get(event.id) ?? 0])
}

/** `perSubject` events for each of `subjects` subjects, interleaved as producers would publish them. */
function interleaved (subjects: number, perSubject: number): { events: HoloEvent[], seqs: Map<string, number> } {
  const cards = Array.from({ length: subjects }, () => randomUUID())
  const events: HoloEvent[] = []
  const seqs = new Map<string, number>()
  for (let seq = 1; seq <= perSubject; seq++) {
    for (const card of cards) {
      const e = liked(card)
      seqs.set(e.id, seq)
      events.push(e)
    }
  }
  return { events, seqs }
}

const inOrder = (rows: Ordered[]): boolean => {
  const last = new Map<string, number>()
  for (const r of rows) {
    if ((last.get(r.subject) ?? 0) >= r.seq) return false
    last.set(r.subject, r.seq)
  }
  return true
}

t.test('a read batch is applied in one transaction: effects and applied_events share it, one COMMIT', async (t) => {
  for (const concurrency of [1, 4]) {
    const schema = await orderedSchema()
    const { redis, prefix } = await sharedRedis(t)
    const stream = `${prefix}card`
    const { events, seqs } = interleaved(10, 5)
    await publish(redis, stream, events)
    const registry = new Registry()
    const commits = async (): Promise<number> => Number((await pool.query<{ n: string }>(
      'SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0]?.n)
    await pool.query('SELECT pg_stat_clear_snapshot()')
    const before = await commits()
    await consume(t, {
      redis, streams: [stream], streamPrefix: prefix, group: 'batch', concurrency, metrics: registry,
      applied: postgresApplied(pool, { schema }), handle: orderedEffect(schema, seqs)
    })
    t.ok(await eventually(async () => (await eventsAdmin({ redis, streamPrefix: prefix }).consumerStats('batch'))
      .pending === 0 && (await ordered(schema)).length === 50), `concurrency ${concurrency}: all 50 applied and acked`)
    const rows = await ordered(schema)
    t.equal(new Set(rows.map((r) => r.event_id)).size, 50, 'each once')
    const txids = new Set(rows.map((r) => r.txid))
    if (concurrency === 1) t.equal(txids.size, 1, 'the whole read batch in one transaction')
    else t.ok(txids.size <= concurrency, `at most one transaction per worker (${txids.size})`)
    t.ok(rows.every((r) => r.applied_xmin === r.xmin && r.xmin === r.txid),
      'each event recorded in applied_events by the transaction of its effect')
    t.ok(inOrder(rows), 'each subject\'s events in order')
    t.equal(await counted(registry, 'applied'), 50, 'metrics still per event')
    const text = await registry.metrics()
    t.match(text, /events_processing_seconds_count\{[^}]*\} 50\n/, 'events_processing_seconds observed per event')
    t.match(text, /events_end_to_end_seconds_count\{[^}]*\} 50\n/, 'events_end_to_end_seconds too')
    // The statistics lag a little: the delta counts this file's other sessions too, so only an upper bound.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    await pool.query('SELECT pg_stat_clear_snapshot()')
    const delta = await commits() - before
    t.ok(delta < 50, `fewer commits than events (${delta} in this database meanwhile, polling included)`)
  }
})

t.test('a batch records its events in applied_events in one statement; ids recorded before are skipped', async (t) => {
  const schema = await orderedSchema()
  const { redis, prefix } = await sharedRedis(t)
  const stream = `${prefix}card`
  const { events, seqs } = interleaved(5, 4)
  // Three events applied before (a redelivery after their commit): their records are there, their effects too.
  const before = [events[1], events[7], events[18]].map((e) => (e as HoloEvent).id)
  await pool.query(`INSERT INTO "${schema}".applied_events (consumer_group, event_id) SELECT 'ahead', unnest($1::uuid[])`,
    [before])
  await publish(redis, stream, events)
  // The consumer's pool, its statements counted as they are sent.
  const watched = db.pool(4)
  let records = 0
  watchStatements(watched, (text) => { if (/^\s*INSERT INTO \S*applied_events/.test(text)) records++ })
  const registry = new Registry()
  await consume(t, {
    redis, streams: [stream], streamPrefix: prefix, group: 'ahead', metrics: registry,
    applied: postgresApplied(watched, { schema }), handle: orderedEffect(schema, seqs)
  })
  t.ok(await eventually(async () => (await eventsAdmin({ redis, streamPrefix: prefix }).consumerStats('ahead'))
    .pending === 0 && (await ordered(schema)).length === 17), 'the 17 new events applied and everything acknowledged')
  const rows = await ordered(schema)
  t.same(new Set(rows.map((r) => r.event_id)), new Set(events.map((e) => e.id).filter((id) => !before.includes(id))),
    'each new event once, none of those applied before')
  t.ok(rows.every((r) => r.applied_xmin === r.xmin), 'each recorded by the transaction of its effect')
  t.ok(inOrder(rows), 'each subject\'s events in order')
  t.equal(new Set(rows.map((r) => r.txid)).size, 1, 'one transaction')
  t.equal(records, 1, 'the twenty ids recorded by one statement')
  t.equal(await counted(registry, 'applied'), 17)
  t.equal(await counted(registry, 'duplicate'), 3, 'the three applied before count as duplicates')
})

t.test('transactionEvents: a transaction closes after whole chains of at least that many events', async (t) => {
  const schema = await orderedSchema()
  const { redis, prefix } = await sharedRedis(t)
  const stream = `${prefix}card`
  const { events, seqs } = interleaved(10, 3)
  await publish(redis, stream, events)
  await consume(t, {
    redis, streams: [stream], streamPrefix: prefix, group: 'small-tx', concurrency: 1, transactionEvents: 5,
    applied: postgresApplied(pool, { schema }), handle: orderedEffect(schema, seqs)
  })
  t.ok(await eventually(async () => (await ordered(schema)).length === 30), 'all 30 applied')
  const rows = await ordered(schema)
  const perTx = new Map<string, number>()
  for (const r of rows) perTx.set(r.txid, (perTx.get(r.txid) ?? 0) + 1)
  t.ok([...perTx.values()].every((n) => n === 6), `two chains of 3 per transaction (${[...perTx.values()].join(', ')})`)
  t.ok(inOrder(rows), 'each subject\'s events in order')
})

t.test('lingerMs: after a short read the consumer waits, and what arrived meanwhile is applied in one transaction',
  async (t) => {
    const schema = await orderedSchema()
    const { redis, prefix } = await sharedRedis(t)
    const stream = `${prefix}card`
    const first = interleaved(1, 1)
    const later = interleaved(10, 1)
    await consume(t, {
      redis, streams: [stream], streamPrefix: prefix, group: 'linger', concurrency: 1, lingerMs: 1500,
      applied: postgresApplied(pool, { schema }), handle: orderedEffect(schema, new Map([...first.seqs, ...later.seqs]))
    })
    await publish(redis, stream, first.events)
    t.ok(await eventually(async () => (await ordered(schema)).length === 1), 'the first event applied at once')
    // Published one by one while the consumer lingers after its read of one entry.
    for (const e of later.events) {
      await publish(redis, stream, [e])
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    t.ok(await eventually(async () => (await ordered(schema)).length === 11), 'all applied')
    const txids = new Set((await ordered(schema)).slice(1).map((r) => r.txid))
    t.equal(txids.size, 1, 'the ten that arrived during the wait share one transaction')
  })

t.test('orderKey: events of one key in order across subjects; null-keyed events applied before the keyed chains', async (t) => {
  const schema = await orderedSchema()
  const { redis, prefix } = await sharedRedis(t)
  const stream = `${prefix}card`
  // Two owners' cards are liked (keyed by owner), with "directory" events (null key) published last.
  const owners = [randomUUID(), randomUUID()]
  const seqs = new Map<string, number>()
  const keyed: HoloEvent[] = []
  for (let i = 0; i < 20; i++) {
    const owner = owners[i % 2] as string
    const e = makeEvent('holo.card.liked.v1', { subject: randomUUID(), actorId: randomUUID(), data: { ownerId: owner, likeCount: 1 } })
    seqs.set(e.id, Math.floor(i / 2) + 1)
    keyed.push(e)
  }
  const directory = Array.from({ length: 5 }, () => makeEvent('holo.card.created.v1', {
    subject: randomUUID(), actorId: randomUUID(), data: { ownerId: randomUUID(), title: 'T', visibility: 'public', rarity: 'common', templateId: null, artworkFileId: null }
  }))
  await publish(redis, stream, [...keyed, ...directory])
  const ownerOf = new Map(keyed.map((e) => [e.id, (e.data as { ownerId: string }).ownerId]))
  await consume(t, {
    redis, streams: [stream], streamPrefix: prefix, group: 'keyed', concurrency: 4,
    orderKey: (e) => e.type === 'holo.card.liked.v1' ? (e.data as { ownerId: string }).ownerId : null,
    applied: postgresApplied(pool, { schema }),
    // The subject column records the order key here: each owner's seqs must come out in order.
    handle: async (event, tx) => {
      await tx?.query(`INSERT INTO "${schema}".effects (event_id, subject, seq) VALUES ($1, $2, $3)`,
        [event.id, ownerOf.get(event.id) ?? event.subject, seqs.get(event.id) ?? 0])
    }
  })
  t.ok(await eventually(async () => (await ordered(schema)).length === 25), 'all 25 applied')
  const rows = await ordered(schema)
  const firstKeyed = rows.findIndex((r) => ownerOf.has(r.event_id))
  t.ok(rows.slice(0, firstKeyed).length === 5 && rows.slice(0, 5).every((r) => !ownerOf.has(r.event_id)),
    'the null-keyed events, published last, were applied first')
  t.ok(inOrder(rows.filter((r) => ownerOf.has(r.event_id))), 'each owner\'s likes in order, across their cards')
})

t.test('the pipeline: a slow chain of one key holds back neither another key\'s later events nor the reads; '
  + 'stop() applies what was read', async (t) => {
  const schema = await consumerSchema()
  const { redis, prefix } = await sharedRedis(t)
  const stream = `${prefix}card`
  const slowOwner = randomUUID()
  const likeOf = (owner: string): HoloEvent => makeEvent('holo.card.liked.v1', {
    subject: randomUUID(), actorId: randomUUID(), data: { ownerId: owner, likeCount: 1 }
  })
  const slow = likeOf(slowOwner)
  let open: () => void = () => {}
  const gate = new Promise<void>((resolve) => { open = resolve })
  let entered = false
  const consumer = await startConsumer({
    redis, streams: [stream], streamPrefix: prefix, group: 'pipeline', concurrency: 2, blockMs: 200,
    orderKey: (e) => (e.data as { ownerId: string }).ownerId,
    applied: postgresApplied(pool, { schema }),
    handle: async (event, tx, delivery) => {
      if (event.id === slow.id) {
        entered = true
        await gate
      }
      await effectOf(schema, 'pipeline')(event, tx, delivery)
    }
  })
  await publish(redis, stream, [slow])
  t.ok(await eventually(() => entered), 'the slow event is being applied')
  // Published after the slow one was read: a read batch would hold them until the slow one commits.
  const others = Array.from({ length: 5 }, () => likeOf(randomUUID()))
  const behind = likeOf(slowOwner)
  await publish(redis, stream, [...others, behind])
  t.ok(await eventually(async () => (await effects(schema)).length === 5),
    'the other keys\' events are read and applied while the slow chain still runs')
  const applied = new Set((await effects(schema)).map((e) => e.event_id))
  t.same(applied, new Set(others.map((e) => e.id)), 'not the slow key\'s next event: its chain keeps its order')
  const stopped = consumer.stop()
  open()
  await stopped
  const done = await effects(schema)
  t.equal(done.length, 7, 'stop() waited for the slow chain and its next event')
  t.same(new Set(done.map((e) => e.event_id)), new Set([slow, ...others, behind].map((e) => e.id)), 'each once')
  t.equal((await eventsAdmin({ redis, streamPrefix: prefix }).consumerStats('pipeline')).pending, 0,
    'all acknowledged before closing')
})

t.test('a poison event in the middle of a batch: the batch rolls back, the others are applied once and in order, '
  + 'the poison one dead-lettered after N attempts', async (t) => {
  const schema = await orderedSchema()
  const { redis, prefix } = await sharedRedis(t)
  const stream = `${prefix}card`
  const admin = eventsAdmin({ redis, streamPrefix: prefix })
  // Five subjects of four events; the batch runs them subject by subject: the third subject's second event fails.
  const { events, seqs } = interleaved(5, 4)
  const poison = events[2 + 5]
  if (poison === undefined) throw new Error('no poison')
  await publish(redis, stream, events)
  const calls = new Map<string, number[]>()
  const registry = new Registry()
  await consume(t, {
    redis, streams: [stream], streamPrefix: prefix, group: 'notify', maxAttempts: 3, backoff: () => 50,
    blockMs: 200, applied: postgresApplied(pool, { schema }), metrics: registry,
    handle: async (event, tx, delivery) => {
      calls.set(event.id, [...(calls.get(event.id) ?? []), delivery.attempt])
      if (event.id === poison.id) throw new Error('poison')
      await orderedEffect(schema, seqs)(event, tx, delivery)
    }
  })
  t.ok(await eventually(async () => (await admin.listDeadLetters('notify')).length === 1), 'it is dead-lettered')
  t.ok(await eventually(async () => (await ordered(schema)).length === 19), 'the 19 others applied')
  const rows = await ordered(schema)
  t.equal(new Set(rows.map((r) => r.event_id)).size, 19, 'each exactly once')
  t.notOk(rows.some((r) => r.event_id === poison.id), 'not the poison one')
  t.ok(rows.every((r) => r.applied_xmin === r.xmin), 'each recorded with its effect')
  t.ok(inOrder(rows), 'each subject\'s events in order')
  t.same(calls.get(poison.id), [1, 2, 3], 'the poison event handled once per delivery, three deliveries')
  // Subjects 1 and 2 and the first event of subject 3 ran in the rolled-back batch: each again in a transaction of
  // its own, as are the two after the poison in its chain; subjects 4 and 5 in a new batch.
  t.equal(new Set(rows.map((r) => r.txid)).size, 9 + 2 + 1, 'nine re-applied alone, the chain\'s rest, one new batch')
  t.match(await admin.listDeadLetters('notify'), [{ eventId: poison.id, attempts: 3, error: 'poison' }])
  t.match(await admin.consumerStats('notify'), { pending: 0, deadLetters: 1 }, 'nothing left pending')
  t.equal(await counted(registry, 'applied'), 19, 'each applied event counted once')
  t.equal(await counted(registry, 'retry'), 2)
  t.equal(await counted(registry, 'dead'), 1)
})

t.test('a poison event is dead-lettered after N attempts while later events flow; replay works after the fix',
  async (t) => {
    const schema = await consumerSchema()
    const { redis, prefix } = await sharedRedis(t)
    const stream = `${prefix}card`
    const registry = new Registry()
    const broken = new Set<string>()
    const attempts = new Map<string, number[]>()
    const admin = eventsAdmin({ redis, streamPrefix: prefix })
    await consume(t, {
      redis, streams: [stream], streamPrefix: prefix, group: 'notify', maxAttempts: 3, backoff: () => 50,
      blockMs: 200, applied: postgresApplied(pool, { schema }), metrics: registry,
      handle: async (event, tx, delivery) => {
        attempts.set(event.id, [...(attempts.get(event.id) ?? []), delivery.attempt])
        if (broken.has(event.subject)) throw new Error(`no template for ${event.subject}`)
        await effectOf(schema, 'notify')(event, tx, delivery)
      }
    })
    const poison = liked()
    broken.add(poison.subject)
    const before = liked()
    const after = Array.from({ length: 10 }, () => liked())
    await publish(redis, stream, [before, poison, ...after])

    t.ok(await eventually(async () => (await admin.listDeadLetters('notify')).length === 1), 'it is dead-lettered')
    const applied = new Set((await effects(schema)).map((e) => e.event_id))
    t.ok([before, ...after].every((e) => applied.has(e.id)), 'the events around it were applied')
    t.same(attempts.get(poison.id), [1, 2, 3], 'after exactly three attempts, counted by Redis')
    const [letter] = await admin.listDeadLetters('notify')
    t.match(letter, {
      group: 'notify', stream, eventId: poison.id, type: 'holo.card.liked.v1', attempts: 3,
      error: `no template for ${poison.subject}`, event: { id: poison.id }
    }, 'the dead letter says what, where from and why')
    t.match(letter?.entryId, /^\d+-\d+$/, 'with the original entry id')
    t.match(await admin.consumerStats('notify'), { pending: 0, deadLetters: 1 }, 'it is no longer pending')
    const text = await registry.metrics()
    t.match(text, /events_dead_letters\{group="notify"\} 1/, 'events_dead_letters reports it')
    t.match(text, /events_consumer_pending\{group="notify",stream="[^"]+card"\} 0/, 'events_consumer_pending too')
    t.equal(await counted(registry, 'retry'), 2)

    broken.clear()
    t.equal(await admin.replayDeadLetter(letter?.id ?? ''), true, 'replayed after the fix (found without the group)')
    t.ok(await eventually(async () => (await effects(schema)).some((e) => e.event_id === poison.id)), 'and applied')
    t.same(await admin.listDeadLetters('notify'), [], 'the dead letter is gone')
    t.equal(await admin.replayDeadLetter(letter?.id ?? ''), false, 'a second replay finds nothing')

    const more = [liked(), liked()]
    for (const e of more) broken.add(e.subject)
    await publish(redis, stream, more)
    t.ok(await eventually(async () => (await admin.listDeadLetters('notify')).length === 2), 'two more die')
    broken.clear()
    t.equal(await admin.replayAll('notify'), 2, 'replayAll sends both back')
    t.ok(await eventually(async () => {
      const ids = new Set((await effects(schema)).map((e) => e.event_id))
      return more.every((e) => ids.has(e.id))
    }), 'both applied')
    t.equal((await effects(schema)).length, 14, 'each of the 14 events applied once')
    t.same(await admin.groups(), ['notify'])
  })

t.test('an event whose data breaks its schema: refused by makeEvent, dead-lettered at once by a consumer',
  async (t) => {
    const schema = await consumerSchema()
    const { redis, prefix } = await sharedRedis(t)
    const stream = `${prefix}card`
    const admin = eventsAdmin({ redis, streamPrefix: prefix })
    const handled: string[] = []
    await consume(t, {
      redis, streams: [stream], streamPrefix: prefix, group: 'search', maxAttempts: 5,
      applied: postgresApplied(pool, { schema }),
      handle: async (event, tx, delivery) => {
        handled.push(event.id)
        await effectOf(schema, 'search')(event, tx, delivery)
      }
    })
    const good = liked()
    const bad = { ...liked(), data: { ownerId: 'nobody', likeCount: -1 } }
    t.throws(() => makeEvent('holo.card.liked.v1', {
      subject: bad.subject, actorId: randomUUID(), data: bad.data as never
    }), InvalidEventError, 'the producer\'s code path refuses it')
    await publish(redis, stream, [JSON.stringify(bad), '{"half": ', good])
    await redis.xadd(stream, '*', 'other', 'field')
    t.ok(await eventually(async () => (await admin.listDeadLetters('search')).length === 3), 'three dead letters')
    t.ok(await eventually(() => handled.includes(good.id)), 'the good event behind them was applied')
    const letters = await admin.listDeadLetters('search')
    t.match(letters[0], { eventId: bad.id, attempts: 1, error: /data\/ownerId/ }, 'bad data: at once, with the reason')
    t.match(letters[1], { attempts: 1, error: 'not JSON', event: '{"half": ' }, 'not JSON: kept as it was')
    t.match(letters[2], { attempts: 1, error: 'the entry has no event field' }, 'an entry without an event field')
    t.same(handled, [good.id], 'the handler never saw them')
    t.match(await admin.consumerStats('search'), { pending: 0, deadLetters: 3 })
  })

t.test('stop() finishes the batch in flight; types the consumer does not handle are acknowledged', async (t) => {
  const schema = await consumerSchema()
  const { redis, prefix } = await sharedRedis(t)
  const stream = `${prefix}card`
  let open: () => void = () => {}
  const gate = new Promise<void>((resolve) => { open = resolve })
  let entered = false
  const consumer = await startConsumer({
    redis, streams: [stream, `${prefix}auth`], streamPrefix: prefix, group: 'stats', types: ['holo.card.liked.v1'],
    blockMs: 60_000, applied: postgresApplied(pool, { schema }),
    handle: async (event, tx, delivery) => {
      entered = true
      await gate
      await effectOf(schema, 'stats')(event, tx, delivery)
    }
  })
  const batch = [liked(), liked(), liked()]
  await publish(redis, stream, batch)
  await publish(redis, `${prefix}auth`, [makeEvent('holo.user.registered.v1', {
    subject: randomUUID(), actorId: randomUUID(), data: { email: 'a@example.com', username: 'a' }
  })])
  t.ok(await eventually(() => entered), 'the batch is in flight')
  const stopped = consumer.stop()
  open()
  await stopped
  t.equal((await effects(schema)).length, 3, 'stop waited for the whole batch')
  const stats = await eventsAdmin({ redis, streamPrefix: prefix }).consumerStats('stats')
  t.equal(stats.pending, 0, 'and acknowledged it before closing')
  t.match(stats.streams.find((s) => s.stream === `${prefix}auth`), { pending: 0, lag: 0 },
    'the user.registered it does not handle was acknowledged unread')

  // An idle consumer blocked on a long read stops at once (CLIENT UNBLOCK), not after blockMs.
  const idle = await startConsumer({
    redis, streams: [stream], streamPrefix: prefix, group: 'idle', blockMs: 600_000, handle: async () => {}
  })
  const admin = eventsAdmin({ redis, streamPrefix: prefix })
  t.ok(await eventually(async () => (await admin.consumerStats('idle')).lag === 0), 'the idle group exists')
  await idle.stop()
  t.pass('stopped while blocked')
})

for (const persistent of [true, false]) {
  const title = persistent
    ? 'Redis stopped while producers commit, then restarted: every event applied, none twice'
    : 'Redis restarted without its data: the group comes back, republish fills the gap, nothing applied twice'
  t.test(title, async (t) => {
    const producer = await db.schema('card')
    const schema = await consumerSchema()
    const own = await ownRedis(t, { persistent })
    // The service's own client, as createRedis makes it: no offline queue.
    const service = new Redis(own.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 })
    service.on('error', () => {})
    await service.connect()
    t.teardown(() => { service.disconnect() })
    const relay = await startRelay({ pool, schema: producer, redis: service, retryBaseMs: 50, retryMaxMs: 300 })
    t.teardown(async () => { await relay.stop() })
    const registry = new Registry()
    await consume(t, {
      redis: service, streams: ['events.card'], group: 'audit', applied: postgresApplied(pool, { schema }),
      handle: effectOf(schema, 'audit'), metrics: registry
    })
    const started = new Date()
    const write = async (n: number): Promise<HoloEvent[]> => {
      const events = Array.from({ length: n }, () => liked())
      for (const e of events) {
        const c = await pool.connect()
        await c.query('BEGIN')
        await writeOutbox(c, [e], { schema: producer })
        await c.query('COMMIT')
        c.release()
      }
      return events
    }
    const before = await write(10)
    t.ok(await eventually(async () => (await effects(schema)).length === 10), 'applied while Redis is up')
    await own.stop()
    const during = await write(20)
    t.pass('producers commit while Redis is down')
    await own.start()
    t.ok(await eventually(async () => (await effects(schema)).length >= 30), 'the waiting events reach the consumer')
    if (!persistent) {
      t.equal(await relay.republish({ since: started }), 30, 'republish sends everything since the start again')
      t.ok(await eventually(async () => await counted(registry, 'duplicate') >= 30),
        'the consumer recognises what it had applied')
    }
    const done = await effects(schema)
    t.equal(done.length, 30, 'none applied twice')
    t.same(new Set(done.map((e) => e.event_id)), new Set([...before, ...during].map((e) => e.id)), 'none lost')
  })
}

t.test('withEffectOnce: a second run of the same event is skipped, a failed run records nothing', async (t) => {
  const schema = await consumerSchema()
  const id = liked().id
  t.match(await withEffectOnce(pool, 'g', id, async () => 'first', { schema }), { applied: true, value: 'first' })
  t.match(await withEffectOnce(pool, 'g', id, async () => 'again', { schema }), { applied: false })
  t.match(await withEffectOnce(pool, 'other', id, async () => 'other group', { schema }), { applied: true })
  const failing = liked().id
  await t.rejects(withEffectOnce(pool, 'g', failing, async () => { throw new Error('effect failed') }, { schema }))
  t.match(await withEffectOnce(pool, 'g', failing, async () => 'retried', { schema }), { applied: true },
    'a failed effect left no record: the retry runs')
})

t.test('withEffectsOnce: one transaction for several events; a caught failure cannot commit half a batch', async (t) => {
  const schema = await consumerSchema()
  const [a, b, c] = [liked(), liked(), liked()]
  const effect = (e: HoloEvent) => async (tx: import('pg').PoolClient): Promise<string> => {
    await tx.query(`INSERT INTO "${schema}".effects (event_id, consumer) VALUES ($1, 'batch')`, [e.id])
    return (await tx.query<{ x: string }>('SELECT txid_current()::text AS x')).rows[0]?.x ?? ''
  }
  const results = await withEffectsOnce(pool, 'g', async (batch) =>
    [await batch.run(a.id, effect(a)), await batch.run(b.id, effect(b)), await batch.run(a.id, effect(a))],
  { schema })
  t.match(results, [{ applied: true }, { applied: true }, { applied: false }], 'a second run in the batch is skipped')
  t.equal(new Set(results.map((r) => r.applied ? r.value : '')).size, 2, 'one transaction for both')
  t.equal((await effects(schema)).length, 2)
  await t.rejects(withEffectsOnce(pool, 'g', async (batch) => {
    await batch.run(c.id, effect(c))
    await batch.run(b.id, effect(b))
    await batch.run(randomUUID(), async (tx) => { await tx.query('SELECT 1/0').catch(() => {}) })
  }, { schema }), /rolled back at COMMIT/, 'an error the effect caught: COMMIT refuses instead of rolling back quietly')
  t.equal((await effects(schema)).length, 2, 'nothing of that batch stayed')
  t.match(await withEffectOnce(pool, 'g', c.id, async () => 'c', { schema }), { applied: true }, 'c was not recorded')
})

t.test('withTransactionState: the effects of one transaction share a state, flushed before its commit and acted on '
  + 'after it; a failed flush rolls the batch back and reports nothing', async (t) => {
  const schema = await consumerSchema()
  const committed: string[][] = []
  let failFlush = false
  const { applied, stateOf } = withTransactionState(postgresApplied(pool, { schema }), {
    open: () => ({ ids: [] as string[] }),
    beforeCommit: async (state, tx) => {
      if (failFlush) throw new Error('flush failed')
      // One statement for every effect gathered.
      await tx.query(`INSERT INTO "${schema}".effects (event_id, consumer) SELECT unnest($1::uuid[]), 'flush'`, [state.ids])
    },
    committed: (state) => { committed.push(state.ids) }
  })
  const gather = async (e: HoloEvent, tx: import('pg').PoolClient | undefined): Promise<void> => {
    const state = stateOf(tx)
    if (tx === undefined || state === undefined) throw new Error('no state')
    state.ids.push(e.id)
  }
  const [a, b, c, d] = [liked(), liked(), liked(), liked()]
  const batch = applied.batch
  if (batch === undefined) throw new Error('postgresApplied has batches')
  const ran = await batch('g', async (run) => [
    await run(a.id, async (tx) => { await gather(a, tx) }),
    await run(b.id, async (tx) => { await gather(b, tx) }),
    await run(a.id, async (tx) => { await gather(a, tx) })
  ])
  t.same(ran, [true, true, false], 'a repeated event is skipped and gathers nothing')
  t.same(committed, [[a.id, b.id]], 'one state for the batch, reported once after its commit')
  t.same((await effects(schema)).map((e) => e.event_id).sort(), [a.id, b.id].sort(), 'the flush wrote in the transaction')

  t.ok(await applied.run('g', c.id, async (tx) => { await gather(c, tx) }), 'a single event has its own transaction')
  t.same(committed.at(-1), [c.id], 'and its own state')

  failFlush = true
  await t.rejects(batch('g', async (run) => await run(d.id, async (tx) => { await gather(d, tx) })), /flush failed/)
  t.equal(committed.length, 2, 'a rolled-back batch reports nothing')
  failFlush = false
  t.ok(await applied.run('g', d.id, async (tx) => { await gather(d, tx) }), 'its event was not recorded: it applies again')
  t.same((await effects(schema)).map((e) => e.event_id).sort(), [a.id, b.id, c.id, d.id].sort(), 'each effect once')
})
