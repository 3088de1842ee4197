import { randomUUID } from 'node:crypto'
import t from 'tap'
import pg from 'pg'
import { makeEvent, type HoloEvent } from '@holo/events'
import { buildTestApp } from './helper.js'

const at = (iso: string): Date => new Date(iso)
const values = (series: Array<{ t: string, value: number }>): Record<string, number> =>
  Object.fromEntries(series.map((p) => [p.t.slice(0, 13), p.value]))

t.test('the overview counts every series by hour and by day', async (t) => {
  const ta = await buildTestApp(t)
  const admin = ta.user(['admin'])
  const [u1, u2, u3, u4, u5] = [ta.user(), ta.user(), ta.user(), ta.user(), ta.user()]
  const card = randomUUID()
  const [f1, f2] = [randomUUID(), randomUUID()]
  const registered = (u: { id: string }, time: string) => makeEvent('holo.user.registered.v1', {
    subject: u.id, actorId: u.id, time: at(time), data: { email: `${u.id}@example.com`, username: u.id.slice(0, 8) }
  })
  const login = (u: { id: string }, time: Date) => makeEvent('holo.user.logged_in.v1', {
    subject: u.id,
    actorId: u.id,
    time,
    data: { sessionId: randomUUID(), ip: '203.0.113.7', userAgent: null, newDevice: false }
  })
  type LikeType = 'holo.card.liked.v1' | 'holo.card.unliked.v1'
  const like = (type: LikeType, u: { id: string }, time: string) => makeEvent(type, {
    subject: card, actorId: u.id, time: at(time), data: { ownerId: u1.id, likeCount: 1 }
  })
  const views = (n: number, to: string) => makeEvent('holo.card.views_counted.v1', {
    subject: card, time: at(to), data: { views: n, from: new Date(at(to).getTime() - 5000).toISOString(), to }
  })
  const first = registered(u1, '2026-03-09T23:10:00Z')
  const events: HoloEvent[] = [
    // A deletion that arrives before its upload: the bytes still net out.
    makeEvent('holo.file.deleted.v1', { subject: f1, actorId: u1.id, time: at('2026-03-10T03:00:00Z'),
      data: { ownerId: u1.id, size: 1000 } }),
    first,
    registered(u2, '2026-03-09T23:59:59.999Z'),
    registered(u3, '2026-03-10T00:00:00Z'),
    registered(u4, '2026-03-10T01:30:00Z'),
    login(u1, at('2026-03-09T23:20:00Z')),
    login(u1, at('2026-03-10T00:10:00Z')),
    login(u2, at('2026-03-10T00:20:00Z')),
    like('holo.card.liked.v1', u2, '2026-03-10T00:05:00Z'),
    makeEvent('holo.card.created.v1', { subject: card, actorId: u1.id, time: at('2026-03-09T22:00:00Z'), data: {
      ownerId: u1.id, title: 'Holo', visibility: 'public', rarity: 'rare', templateId: null, artworkFileId: null
    } }),
    like('holo.card.liked.v1', u3, '2026-03-10T00:06:00Z'),
    like('holo.card.unliked.v1', u3, '2026-03-10T00:07:00Z'),
    views(5, '2026-03-10T00:00:00.000Z'),
    views(3, '2026-03-09T23:59:58.000Z'),
    makeEvent('holo.file.uploaded.v1', { subject: f1, actorId: u1.id, time: at('2026-03-09T10:00:00Z'),
      data: { ownerId: u1.id, size: 1000, contentType: 'image/png' } }),
    makeEvent('holo.file.uploaded.v1', { subject: f2, actorId: u1.id, time: at('2026-03-10T02:00:00Z'),
      data: { ownerId: u1.id, size: 500, contentType: 'image/png' } }),
    // Redelivered: applied once.
    first,
    login(u5, new Date())
  ]
  await ta.publish(...events)
  await ta.publish(first)
  await ta.drained()

  t.test('by hour, across the day boundary', async (t) => {
    const res = await ta.app.inject({
      url: '/api/v1/analytics/overview?granularity=hour&from=2026-03-09T22:30:00Z&to=2026-03-10T04:00:00Z',
      headers: admin.headers
    })
    t.equal(res.statusCode, 200)
    const body = res.json()
    t.equal(body.from, '2026-03-09T22:00:00.000Z', 'from is the start of its bucket')
    t.equal(body.to, '2026-03-10T04:00:00.000Z')
    t.equal(body.granularity, 'hour')
    const s = body.series
    t.same(s.signups.map((p: { t: string }) => p.t), [
      '2026-03-09T22:00:00.000Z', '2026-03-09T23:00:00.000Z', '2026-03-10T00:00:00.000Z',
      '2026-03-10T01:00:00.000Z', '2026-03-10T02:00:00.000Z', '2026-03-10T03:00:00.000Z'
    ], 'one point per bucket, zeros included')
    const h = ['2026-03-09T22', '2026-03-09T23', '2026-03-10T00', '2026-03-10T01', '2026-03-10T02', '2026-03-10T03']
    const row = (name: string): number[] => h.map((k) => values(s[name])[k] ?? -1)
    t.same(row('signups'), [0, 2, 1, 1, 0, 0], 'signups (a duplicate counted once, 23:59:59.999 in 23h)')
    t.same(row('logins'), [0, 1, 2, 0, 0, 0])
    t.same(row('activeUsers'), [1, 2, 3, 1, 1, 1], 'distinct users acting per hour')
    t.same(row('cardsCreated'), [1, 0, 0, 0, 0, 0])
    t.same(row('likes'), [0, 0, 2, 0, 0, 0])
    t.same(row('unlikes'), [0, 0, 1, 0, 0, 0])
    t.same(row('views'), [0, 3, 5, 0, 0, 0], 'views in the bucket where their window ended')
    t.same(row('uploads'), [0, 0, 0, 0, 1, 0])
    t.same(row('bytesStored'), [1000, 1000, 1000, 1000, 1500, 500], 'a running total net of deletions')
  })

  t.test('by day', async (t) => {
    const res = await ta.app.inject({
      url: '/api/v1/analytics/overview?granularity=day&from=2026-03-08T00:00:00Z&to=2026-03-10T12:00:00Z',
      headers: admin.headers
    })
    t.equal(res.statusCode, 200)
    const s = res.json().series
    const d = ['2026-03-08T00', '2026-03-09T00', '2026-03-10T00']
    const row = (name: string): number[] => d.map((k) => values(s[name])[k] ?? -1)
    t.same(row('signups'), [0, 2, 2])
    t.same(row('logins'), [0, 1, 2])
    t.same(row('activeUsers'), [0, 2, 4], 'distinct users acting per day')
    t.same(row('cardsCreated'), [0, 1, 0])
    t.same(row('likes'), [0, 0, 2])
    t.same(row('views'), [0, 3, 5])
    t.same(row('uploads'), [0, 1, 1])
    t.same(row('bytesStored'), [0, 1000, 500])
  })

  t.test('defaults: the last 30 days by day, the last 48 hours by hour', async (t) => {
    const day = (await ta.app.inject({ url: '/api/v1/analytics/overview', headers: admin.headers })).json()
    t.equal(day.granularity, 'day')
    t.equal(day.series.logins.length, 30)
    const today = new Date().toISOString().slice(0, 10)
    t.equal(day.series.logins[29].t.slice(0, 10), today, 'ends with today')
    t.equal(day.series.logins[29].value, 1)
    t.equal(day.series.activeUsers[29].value, 1)
    t.equal(day.series.bytesStored[29].value, 500)
    const hour = (await ta.app.inject({
      url: '/api/v1/analytics/overview?granularity=hour', headers: admin.headers
    })).json()
    t.equal(hour.series.views.length, 48)
  })

  t.test('the business metrics on /metrics', async (t) => {
    const text = (await ta.app.inject({ url: '/metrics' })).body
    const metric = (name: string): number | undefined => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)
      return m === null ? undefined : Number(m[1])
    }
    t.equal(metric('holo_signups_total'), 4)
    t.equal(metric('holo_logins_total'), 4)
    t.equal(metric('holo_cards_created_total'), 1)
    t.equal(metric('holo_likes_total'), 2)
    t.equal(metric('holo_unlikes_total'), 1)
    t.equal(metric('holo_card_views_total'), 8)
    t.equal(metric('holo_uploads_total'), 2)
    t.equal(metric('holo_bytes_stored'), 500)
    t.equal(metric('holo_active_users_today'), 1)
    t.match(text, /events_consumed_total\{[^}]*type="holo.user.registered.v1"[^}]*outcome="duplicate"[^}]*\} 2/,
      'the event published three times: applied once, skipped twice')
  })

  t.test('who may read it', async (t) => {
    const anon = await ta.app.inject({ url: '/api/v1/analytics/overview' })
    t.equal(anon.statusCode, 401)
    t.equal(anon.headers['content-type'], 'application/problem+json; charset=utf-8')
    const user = await ta.app.inject({ url: '/api/v1/analytics/overview', headers: u1.headers })
    t.equal(user.statusCode, 403)
    t.equal(user.json().code, 'FORBIDDEN')
  })

  t.test('bad input is a 400 problem', async (t) => {
    const bad = async (query: string, field: string, code = 'VALIDATION_FAILED'): Promise<Record<string, unknown>> => {
      const res = await ta.app.inject({ url: `/api/v1/analytics/overview?${query}`, headers: admin.headers })
      t.equal(res.statusCode, 400, query)
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      const body = res.json()
      t.equal(body.code, code, query)
      t.ok((body.errors as Array<{ field: string }>).some((e) => e.field.includes(field)), `${query} names ${field}`)
      return body
    }
    await bad('granularity=week', 'granularity')
    await bad('from=yesterday', 'from')
    await bad('from=2026-03-10T00:00:00Z&to=2026-03-09T00:00:00Z', 'from')
    await bad('from=2026-03-10T00:00:00Z&to=2026-03-10T00:00:00Z', 'from')
    await bad('surprise=1', 'surprise')
    await bad('from=0000-01-01T00:00:00Z&to=0000-01-02T00:00:00Z', 'to')
    await bad('from=0000-12-01T00:00:00Z', 'from')
    const big = await bad('granularity=hour&from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'from',
      'RANGE_TOO_LARGE')
    t.match(big.detail, /at most 1000/)
    t.equal(big.limit, 1000)
    const ok = await ta.app.inject({
      url: '/api/v1/analytics/overview?granularity=day&from=2023-06-01T00:00:00Z&to=2026-01-01T00:00:00Z',
      headers: admin.headers
    })
    t.equal(ok.statusCode, 200, '945 days is within the limit')
  })

  t.test('reads and writes its own schema only', async (t) => {
    const c = new pg.Client({ connectionString: ta.db.adminUrl })
    await c.connect()
    t.teardown(() => c.end())
    // Other services have tables of the same names (cards, applied_events) in their own schemas.
    const tables = await c.query<{ schemaname: string, tablename: string }>(
      `SELECT schemaname, tablename FROM pg_tables WHERE tableowner = 'holo_analytics'`)
    t.same(new Set(tables.rows.map((r) => r.schemaname)), new Set(['analytics']), 'every table it owns is in analytics')
    t.same(tables.rows.map((r) => r.tablename).filter((n) => n !== '_prisma_migrations').sort(),
      ['active_users', 'applied_events', 'card_hourly', 'cards', 'rollups'])
    const rows = await c.query('SELECT count(*)::int AS n FROM analytics.rollups')
    t.ok(rows.rows[0].n > 0, 'the rollups are in analytics')
  })
})
