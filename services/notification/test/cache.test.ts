// First inbox pages and unread counts come from Redis, and no change of an inbox is ever hidden by it: on
// the instance that made it, on another instance, from the consumer, from retention, and after a Redis outage.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeEvent } from '@holo/events'
import { buildTestApp, eventually, type TestApp, type TestUser } from './helper.js'
import type { NotificationItem } from '../src/modules/notifications/notifications.types.js'

const newLogin = (u: TestUser) => makeEvent('holo.user.logged_in.v1', {
  subject: u.id, actorId: u.id, data: { sessionId: randomUUID(), ip: '198.51.100.4', userAgent: null, newDevice: true }
})

const firstPage = async (ta: TestApp, u: TestUser, query = 'limit=20'): Promise<NotificationItem[]> => {
  const res = await ta.app.inject({ url: `/api/v1/notifications?${query}`, headers: u.headers })
  if (res.statusCode !== 200) throw new Error(`inbox read: ${res.statusCode} ${res.body}`)
  return res.json().items as NotificationItem[]
}
const unreadCount = async (ta: TestApp, u: TestUser): Promise<number> =>
  (await ta.app.inject({ url: '/api/v1/notifications/unread-count', headers: u.headers })).json().count as number

const cacheHits = async (ta: TestApp): Promise<number> => {
  const text = (await ta.app.inject({ url: '/metrics' })).body
  const m = /^cache_requests_total\{[^}]*cache="notification_inbox",result="hit"[^}]*\} (\d+)/m.exec(text)
  return Number(m?.[1] ?? NaN)
}

t.test('first pages and counts are served from the cache, and every change is seen at once', async (t) => {
  const a = await buildTestApp(t)
  const b = await buildTestApp(t, {}, { like: a, consumerName: 'notification-b' })
  const me = a.user()
  await a.publish(newLogin(me), newLogin(me), newLogin(me))
  await a.drained()
  await eventually(async () => (await firstPage(a, me)).length === 3, 'three notifications')

  // Served from Redis: a row changed behind the service's back is not seen, and the hit is counted.
  const hitsBefore = await cacheHits(a)
  await a.deps.pool.query("UPDATE notifications SET title = 'changed behind the cache' WHERE user_id = $1", [me.id])
  const cached = await firstPage(a, me)
  t.notOk(cached.some((n) => n.title === 'changed behind the cache'), 'the page came from the cache')
  t.ok(await cacheHits(a) > hitsBefore, 'counted as a hit')
  t.same(await firstPage(b, me), cached, 'the other instance serves the same cached page')
  t.equal(await unreadCount(a, me), 3)

  // A change made on instance a is seen by both instances on the next read.
  const [newest] = cached as [NotificationItem]
  const read = await a.app.inject({ method: 'POST', url: `/api/v1/notifications/${newest.id}/read`, headers: me.headers })
  t.equal(read.statusCode, 204)
  t.equal(await unreadCount(b, me), 2, 'instance b sees a\'s read at once')
  t.not((await firstPage(b, me))[0]?.readAt, null, 'and the page shows it read')
  t.equal((await firstPage(b, me, 'unread=true&limit=20')).length, 2)

  // Delete on b, read on a.
  const del = await b.app.inject({ method: 'DELETE', url: `/api/v1/notifications/${newest.id}`, headers: me.headers })
  t.equal(del.statusCode, 204)
  t.notOk((await firstPage(a, me)).some((n) => n.id === newest.id), 'the deleted one is gone on a')

  // A notification made by the consumer is on the next read of both.
  await a.publish(newLogin(me))
  await a.drained()
  await eventually(async () => (await firstPage(a, me)).length === 3 && (await firstPage(b, me)).length === 3,
    'the new notification on both instances')
  t.equal(await unreadCount(b, me), 3)

  // read-all on b, count on a.
  await b.app.inject({ method: 'POST', url: '/api/v1/notifications/read-all', headers: me.headers })
  t.equal(await unreadCount(a, me), 0)
  t.same(await firstPage(a, me, 'unread=true&limit=20'), [])

  // Pages after the first are never cached: they read PostgreSQL.
  const p1 = (await a.app.inject({ url: '/api/v1/notifications?limit=1', headers: me.headers })).json()
  const p2 = await firstPage(a, me, `limit=1&cursor=${p1.nextCursor as string}`)
  t.equal(p2[0]?.title, 'changed behind the cache', 'a later page reads the database')
})

t.test('retention rules the pruned users\' cached reads stale', async (t) => {
  const ta = await buildTestApp(t, { NOTIFICATIONS_KEEP_PER_USER: '1', NOTIFICATIONS_RETENTION_DAYS: '1' })
  const me = ta.user()
  await ta.publish(newLogin(me), newLogin(me))
  await ta.drained()
  await eventually(async () => (await firstPage(ta, me)).length === 2, 'two notifications')
  t.equal(await unreadCount(ta, me), 2)
  await ta.deps.pool.query("UPDATE notifications SET created_at = now() - interval '2 days' WHERE user_id = $1", [me.id])
  const pruned = await ta.app.notifications.prune()
  t.equal(pruned.notifications, 1)
  t.equal((await firstPage(ta, me)).length, 1, 'the pruned one is gone from the first page')
  t.equal(await unreadCount(ta, me), 1)
})

t.test('NOTIFICATIONS_CACHE_SECONDS=0 reads PostgreSQL every time', async (t) => {
  const ta = await buildTestApp(t, { NOTIFICATIONS_CACHE_SECONDS: '0' })
  const me = ta.user()
  await ta.publish(newLogin(me))
  await ta.drained()
  await eventually(async () => (await firstPage(ta, me)).length === 1, 'one notification')
  await ta.deps.pool.query("UPDATE notifications SET title = 'straight from the table' WHERE user_id = $1", [me.id])
  t.equal((await firstPage(ta, me))[0]?.title, 'straight from the table')
})

t.test('a failed invalidation turns the cache off until it is purged: nothing stale after Redis comes back', async (t) => {
  const ta = await buildTestApp(t)
  const me = ta.user()
  await ta.publish(newLogin(me), newLogin(me))
  await ta.drained()
  await eventually(async () => (await firstPage(ta, me)).length === 2, 'two notifications')
  t.equal(await unreadCount(ta, me), 2, 'cached')
  // The invalidation of the next change fails (Redis unreachable for the service's client) ...
  ta.deps.redis.disconnect(false)
  await eventually(() => ta.deps.redis.status !== 'ready', 'the client to drop')
  const [newest] = await firstPage(ta, me) as [NotificationItem]
  const read = await ta.app.inject({ method: 'POST', url: `/api/v1/notifications/${newest.id}/read`, headers: me.headers })
  t.equal(read.statusCode, 204, 'the write succeeds without Redis')
  t.equal(await unreadCount(ta, me), 1, 'and reads go to PostgreSQL meanwhile')
  // ... and once Redis is back, the old cached count is never served.
  await ta.deps.redis.connect()
  await eventually(() => ta.deps.redis.status === 'ready', 'the client to come back')
  for (let i = 0; i < 5; i++) t.equal(await unreadCount(ta, me), 1, `read ${i} after Redis came back`)
})
