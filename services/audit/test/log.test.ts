// The consumer side: events of each producer land in the log with who, what, when, from where and which request;
// a redelivered or duplicated event is logged once; an event that breaks its schema is dead-lettered, not logged;
// the log is append-only for the service's own role; the service writes its own schema only.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import pg from 'pg'
import { makeEvent } from '@holo/events'
import { ChainBatch } from '../src/modules/audit/audit.appender.js'
import { buildTestApp, eventually, get } from './helper.js'

const TRACE = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'

t.test('events from auth, card and file land in the log with actor, ip, request id and trace', async (t) => {
  const ta = await buildTestApp(t)
  const admin = ta.user(['admin'])
  const user = randomUUID()
  const card = randomUUID()
  const file = randomUUID()
  const registered = makeEvent('holo.user.registered.v1', {
    subject: user, actorId: user, requestId: 'req-auth-1', ip: '203.0.113.7', traceparent: TRACE,
    data: { email: 'ada@example.com', username: 'ada' }
  })
  const liked = makeEvent('holo.card.liked.v1', {
    subject: card,
    actorId: user,
    requestId: 'req-card-1',
    ip: '2001:db8::7',
    data: { ownerId: randomUUID(), likeCount: 3 }
  })
  const deleted = makeEvent('holo.file.deleted.v1', { subject: file, data: { ownerId: randomUUID(), size: 12 } })
  await ta.publish('auth', registered)
  await ta.publish('card', { ...liked, subjectseq: 4 } as typeof liked)
  await ta.publish('file', deleted)

  t.ok(await eventually(async () => await ta.logCount() === 3), 'three rows')
  const { status, body } = await get(ta, '/api/v1/audit/events', admin)
  t.equal(status, 200)
  t.equal(body.nextCursor, null)
  const byId = new Map<string, Record<string, any>>(body.items.map((i: Record<string, any>) => [i.id, i]))
  t.same(byId.get(registered.id), {
    id: registered.id,
    type: 'holo.user.registered.v1',
    source: 'holo-auth',
    subject: user,
    actorId: user,
    time: registered.time,
    requestId: 'req-auth-1',
    ip: '203.0.113.7',
    traceparent: TRACE,
    subjectSeq: null,
    data: { email: 'ada@example.com', username: 'ada' }
  })
  t.match(byId.get(liked.id), {
    source: 'holo-card', subject: card, actorId: user, requestId: 'req-card-1', ip: '2001:db8::7', subjectSeq: 4
  })
  t.match(byId.get(deleted.id), { source: 'holo-file', actorId: null, requestId: null, ip: null, traceparent: null })
  // Newest first.
  const times = body.items.map((i: { time: string }) => i.time)
  t.same(times, [...times].sort().reverse())
})

t.test('a duplicated or redelivered event is logged once', async (t) => {
  const ta = await buildTestApp(t)
  const e = makeEvent('holo.card.hidden.v1', {
    subject: randomUUID(), actorId: randomUUID(), data: { ownerId: randomUUID(), reason: 'spam' }
  })
  // A republish puts the same envelope on the stream again; a replay sends it back through the replay stream.
  await ta.publish('card', e)
  await ta.publish('card', e)
  await ta.redis.xadd(`${ta.prefix}replay.audit`, '*', 'event', JSON.stringify(e))
  const marker = makeEvent('holo.card.unhidden.v1', {
    subject: randomUUID(), actorId: randomUUID(), data: { ownerId: randomUUID() }
  })
  await ta.publish('card', marker)
  t.ok(await eventually(async () => {
    const pending = await ta.redis.xpending(`${ta.prefix}card`, 'audit') as unknown[]
    const replay = await ta.redis.xpending(`${ta.prefix}replay.audit`, 'audit') as unknown[]
    const info = await ta.redis.call('XINFO', 'GROUPS', `${ta.prefix}card`) as unknown[][]
    const lag = info[0]?.[info[0].indexOf('lag') + 1]
    return pending[0] === 0 && replay[0] === 0 && lag === 0 && await ta.logCount() >= 2
  }), 'every entry acknowledged')
  t.equal(await ta.logCount(), 2, 'one row per event')
  const su = await ta.superuser()
  const { rows } = await su.query('SELECT id FROM audit.audit_log WHERE id = $1', [e.id])
  t.equal(rows.length, 1)
  const verify = await get(ta, '/api/v1/audit/verify', ta.user(['admin']))
  t.match(verify.body, { ok: true, count: 2 })
})

t.test('an event logged before but forgotten by applied_events writes nothing; the events after it chain on', async (t) => {
  const ta = await buildTestApp(t)
  const hidden = (time?: string) => {
    const e = makeEvent('holo.card.hidden.v1', {
      subject: randomUUID(), actorId: randomUUID(), data: { ownerId: randomUUID(), reason: 'spam' }
    })
    return time === undefined ? e : { ...e, time }
  }
  const first = hidden()
  await ta.publish('card', first)
  t.ok(await eventually(async () => await ta.logCount() === 1), 'logged')
  const su = await ta.superuser()
  // As pruning would: the record of the delivery goes, the row stays.
  await su.query('DELETE FROM audit.applied_events WHERE event_id = $1', [first.id])
  // Finer than the log keeps: PostgreSQL's rounding is the one the hash covers.
  const fine = hidden('2026-03-10T10:00:00.1236Z')
  const after = hidden()
  for (const e of [first, fine, after]) await ta.publish('card', e)
  t.ok(await eventually(async () => await ta.logCount() === 3), 'the two new events logged')
  await ta.publish('card', hidden())
  t.ok(await eventually(async () => await ta.logCount() === 4))
  const { rows } = await su.query<{ id: string, seq: string, time: Date }>('SELECT id, seq, time FROM audit.audit_log ORDER BY seq')
  t.same(rows.map((r) => r.id).slice(0, 3), [first.id, fine.id, after.id], 'one row each, in order')
  t.same(rows.map((r) => Number(r.seq)), [1, 2, 3, 4], 'no gap where the repeated event was refused')
  t.equal(rows[1]?.time.toISOString(), '2026-03-10T10:00:00.124Z', 'the stored time')
  const verify = await get(ta, '/api/v1/audit/verify', ta.user(['admin']))
  t.match(verify.body, { ok: true, count: 4 }, 'the chain holds across the refused row and the rounded time')
})

t.test('a transaction\'s events are chained and written at once: the lock, one read of the head, one INSERT', async (t) => {
  const ta = await buildTestApp(t)
  const su = await ta.superuser()
  await su.query('SET search_path TO audit')
  const hidden = () => makeEvent('holo.card.hidden.v1', {
    subject: randomUUID(), actorId: randomUUID(), data: { ownerId: randomUUID(), reason: 'spam' }
  })
  const before = hidden()
  await ta.publish('card', before)
  t.ok(await eventually(async () => await ta.logCount() === 1), 'one event logged by the consumer')

  const events = [hidden(), before, hidden(), hidden()]
  const statements: string[] = []
  const query = su.query.bind(su) as (...args: unknown[]) => unknown
  await su.query('BEGIN')
  ;(su as unknown as { query: unknown }).query = (config: { text?: string }, ...rest: unknown[]) => {
    statements.push(config.text ?? String(config))
    return query(config, ...rest)
  }
  const batch = new ChainBatch()
  for (const e of events) await batch.add(su, e)
  t.equal(statements.length, 0, 'gathering reads and writes nothing (times with milliseconds are exact)')
  const appended = await batch.flush(su)
  ;(su as unknown as { query: unknown }).query = query
  await su.query('COMMIT')
  t.equal(statements.length, 3, 'three statements for four events')
  t.match(statements[0], /pg_advisory_xact_lock/, 'the chain\'s lock first')
  t.same(appended.skipped, [before.id], 'the event logged already is skipped')
  t.same(appended.rows.map((r) => [r.id, r.seq]), [[events[0]?.id, 2], [events[2]?.id, 3], [events[3]?.id, 4]],
    'the others chain on from the head, in the order applied')
  t.same(await batch.flush(su), { rows: [], skipped: [] }, 'a flushed batch is empty')
  const verify = await get(ta, '/api/v1/audit/verify', ta.user(['admin']))
  t.match(verify.body, { ok: true, count: 4, lastHash: appended.rows[2]?.hash }, 'the chain verifies')
})

t.test('an event that breaks its schema is dead-lettered, not logged', async (t) => {
  const ta = await buildTestApp(t)
  const good = makeEvent('holo.card.liked.v1', {
    subject: randomUUID(), actorId: randomUUID(), data: { ownerId: randomUUID(), likeCount: 1 }
  })
  const bad = { ...good, id: randomUUID(), data: { ownerId: randomUUID(), likeCount: 'many' } }
  await ta.publish('card', JSON.stringify(bad))
  await ta.publish('card', 'not json at all')
  await ta.publish('card', good)
  const dead = `${ta.prefix}dead.audit`
  t.ok(await eventually(async () => await ta.redis.xlen(dead) === 2 && await ta.logCount() === 1))
  const entries = await ta.redis.xrange(dead, '-', '+')
  const reasons = entries.map(([, fields]) => fields[fields.indexOf('error') + 1])
  t.match(reasons[0], /likeCount/)
  t.match(reasons[1], /not JSON/)
  const su = await ta.superuser()
  const { rows } = await su.query<{ id: string }>('SELECT id FROM audit.audit_log')
  t.same(rows.map((r) => r.id), [good.id], 'only the valid event is logged')
})

t.test('the log is append-only for the service role: UPDATE, DELETE and TRUNCATE are refused', async (t) => {
  const ta = await buildTestApp(t)
  const e = makeEvent('holo.user.enabled.v1', { subject: randomUUID(), actorId: randomUUID(), data: {} })
  await ta.publish('auth', e)
  t.ok(await eventually(async () => await ta.logCount() === 1))
  const role = new pg.Client({ connectionString: ta.db.urlFor('audit') })
  await role.connect()
  t.teardown(async () => { await role.end() })
  const { rows: [me] } = await role.query<{ user: string }>('SELECT current_user AS user')
  t.equal(me?.user, 'holo_audit')
  for (const sql of [
    'UPDATE audit_log SET ip = \'198.51.100.1\'',
    'UPDATE audit_log SET ip = NULL WHERE false',
    `DELETE FROM audit_log WHERE id = '${e.id}'`,
    'TRUNCATE audit_log'
  ]) {
    await t.rejects(role.query(sql), { code: 'P0001', message: /append-only/ }, sql)
  }
  t.equal(await ta.logCount(), 1)
  const verify = await get(ta, '/api/v1/audit/verify', ta.user(['admin']))
  t.match(verify.body, { ok: true, count: 1 })
})

t.test('the service reads and writes its own schema only, under its own role', async (t) => {
  const ta = await buildTestApp(t)
  await ta.publish('file', makeEvent('holo.file.uploaded.v1', {
    subject: randomUUID(), actorId: randomUUID(), data: { ownerId: randomUUID(), size: 1, contentType: 'image/png' }
  }))
  t.ok(await eventually(async () => await ta.logCount() === 1))
  const viaPrisma = await ta.deps.prisma.$queryRaw<Array<{ schema: string, who: string, n: number }>>`
    SELECT current_schema() AS schema, current_user AS who, (SELECT count(*)::int FROM audit.audit_log) AS n`
  t.same(viaPrisma, [{ schema: 'audit', who: 'holo_audit', n: 1 }], 'the API\'s client')
  const { rows: viaPool } = await ta.deps.pool.query<{ schema: string, who: string, n: number }>(
    `SELECT current_schema() AS schema, current_user AS who,
            (SELECT count(*)::int FROM audit_log) + (SELECT count(*)::int FROM applied_events) AS n`)
  t.same(viaPool, [{ schema: 'audit', who: 'holo_audit', n: 2 }], 'the consumer\'s pool: the row and its record')
  await t.rejects(ta.deps.pool.query('SELECT count(*) FROM card.cards'), { code: '42501' }, 'no rights on card')
})
