// The inbox API and the preferences, over notifications made from events.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeEvent } from '@holo/events'
import { buildTestApp, eventually, type TestUser } from './helper.js'
import type { NotificationItem } from '../src/modules/notifications/notifications.types.js'

const newLogin = (u: TestUser) => makeEvent('holo.user.logged_in.v1', {
  subject: u.id, actorId: u.id, data: { sessionId: randomUUID(), ip: '198.51.100.4', userAgent: null, newDevice: true }
})

t.test('paging, unread filter, read, read-all with upTo, delete, unread count, another user\'s 404', async (t) => {
  const ta = await buildTestApp(t)
  const [me, other] = [ta.user(), ta.user()]
  const live = await ta.listen(me.id)
  await ta.publish(...Array.from({ length: 7 }, () => newLogin(me)), newLogin(other))
  await ta.drained()
  // One unread count per user and committed batch, after its notifications.
  await eventually(() => live.filter((m) => m.kind === 'notification').length === 7 &&
    live.at(-1)?.kind === 'unread', 'the messages of the seven notifications')
  t.same(live.at(-1), { kind: 'unread', count: 7 })
  t.ok(live.filter((m) => m.kind === 'unread').length <= 7, 'at most one count per change')
  const seen = live.length
  const get = async (url: string, u = me) => await ta.app.inject({ url, headers: u.headers })

  const p1 = await get('/api/v1/notifications?limit=3')
  t.equal(p1.statusCode, 200)
  t.equal(p1.headers['cache-control'], 'no-store')
  const b1 = p1.json()
  t.equal(b1.items.length, 3)
  const p2 = (await get(`/api/v1/notifications?limit=3&cursor=${b1.nextCursor as string}`)).json()
  const p3 = (await get(`/api/v1/notifications?limit=3&cursor=${p2.nextCursor as string}`)).json()
  t.equal(p3.items.length, 1)
  t.equal(p3.nextCursor, null)
  const all = [...b1.items, ...p2.items, ...p3.items] as NotificationItem[]
  t.equal(new Set(all.map((n) => n.id)).size, 7)
  t.ok(all.every((n, i) => i === 0 || (all[i - 1] as NotificationItem).id > n.id), 'newest first')
  t.same(Object.keys(all[0] as object).sort(), ['body', 'createdAt', 'data', 'id', 'readAt', 'title', 'type'])
  t.equal((await get('/api/v1/notifications?cursor=bm9wZQ')).statusCode, 400, 'a forged cursor is a 400')
  t.equal((await get('/api/v1/notifications?limit=0')).statusCode, 400)
  t.same((await get('/api/v1/notifications/unread-count')).json(), { count: 7 })

  const [newest, second, third] = all as [NotificationItem, NotificationItem, NotificationItem]
  const read = await ta.app.inject({
    method: 'POST', url: `/api/v1/notifications/${newest.id}/read`, headers: me.headers
  })
  t.equal(read.statusCode, 204)
  t.same((await get('/api/v1/notifications/unread-count')).json(), { count: 6 })
  t.equal((await ta.app.inject({
    method: 'POST', url: `/api/v1/notifications/${newest.id}/read`, headers: me.headers
  })).statusCode, 204, 'reading again is fine')
  const unread = (await get('/api/v1/notifications?unread=true&limit=100')).json().items as NotificationItem[]
  t.equal(unread.length, 6)
  t.notOk(unread.some((n) => n.id === newest.id))
  t.ok(((await get('/api/v1/notifications?limit=1')).json().items[0] as NotificationItem).readAt !== null)

  // read-all up to the third newest: that one and older ones; the second newest stays unread.
  const upTo = await ta.app.inject({
    method: 'POST', url: '/api/v1/notifications/read-all', headers: me.headers, payload: { upTo: third.id }
  })
  t.equal(upTo.statusCode, 200)
  t.same(upTo.json(), { updated: 5 })
  t.same((await get('/api/v1/notifications?unread=true')).json().items.map((n: NotificationItem) => n.id), [second.id])
  t.equal((await ta.app.inject({
    method: 'POST', url: '/api/v1/notifications/read-all', headers: me.headers, payload: { upTo: 'nope' }
  })).statusCode, 400)

  // Another user's notification is a 404 for everything.
  const theirs = (await get('/api/v1/notifications', other)).json().items[0] as NotificationItem
  for (const [method, url] of [['POST', `/api/v1/notifications/${theirs.id}/read`],
    ['DELETE', `/api/v1/notifications/${theirs.id}`]] as const) {
    const res = await ta.app.inject({ method, url, headers: me.headers })
    t.equal(res.statusCode, 404, `${method} ${url}`)
    t.equal(res.json().code, 'NOTIFICATION_NOT_FOUND')
  }
  t.same((await get('/api/v1/notifications/unread-count', other)).json(), { count: 1 }, 'untouched')

  const del = await ta.app.inject({ method: 'DELETE', url: `/api/v1/notifications/${second.id}`, headers: me.headers })
  t.equal(del.statusCode, 204)
  t.equal((await ta.app.inject({
    method: 'DELETE', url: `/api/v1/notifications/${second.id}`, headers: me.headers
  })).statusCode, 404)
  t.same((await get('/api/v1/notifications/unread-count')).json(), { count: 0 })

  // read-all without a body, after a new one came.
  await ta.publish(newLogin(me))
  await ta.drained()
  const noBody = await ta.app.inject({ method: 'POST', url: '/api/v1/notifications/read-all', headers: me.headers })
  t.equal(noBody.statusCode, 200)
  t.same(noBody.json(), { updated: 1 })
  t.equal((await get('/api/v1/notifications')).statusCode, 200)
  t.equal((await ta.app.inject({ url: '/api/v1/notifications' })).statusCode, 401, 'signed-in users only')

  await eventually(() => live.slice(seen).filter((m) => m.kind === 'unread').length >= 5, 'the unread messages')
  t.same(live.slice(seen).filter((m) => m.kind !== 'notification'), [
    { kind: 'unread', count: 6 },
    { kind: 'unread', count: 1 },
    { kind: 'removed', id: second.id },
    { kind: 'unread', count: 0 },
    { kind: 'unread', count: 1 },
    { kind: 'unread', count: 0 }
  ], 'each change of the unread count and each deletion is published')
})

t.test('preferences: defaults, partial PUT, security mail cannot be turned off, in-app off', async (t) => {
  const ta = await buildTestApp(t)
  const me = ta.user()
  const prefs = async () => (await ta.app.inject({ url: '/api/v1/notifications/preferences', headers: me.headers }))
  const put = async (types: unknown) => await ta.app.inject({
    method: 'PUT', url: '/api/v1/notifications/preferences', headers: me.headers, payload: { types }
  })
  const defaults = (await prefs()).json().types
  t.same(defaults['card.liked'], { inApp: true, email: false })
  t.same(defaults['card.hidden'], { inApp: true, email: true })
  t.same(defaults['security.new_login'], { inApp: true, email: true })
  t.same(defaults.welcome, { inApp: true, email: false })
  t.same(defaults['card.warned'], { inApp: true, email: true }, 'a moderator\'s warning is mailed')
  t.same(defaults['report.resolved'], { inApp: true, email: false })
  t.equal(Object.keys(defaults).length, 14)

  const changed = await put({ 'card.liked': { inApp: false }, welcome: { email: true } })
  t.equal(changed.statusCode, 200)
  t.same(changed.json().types['card.liked'], { inApp: false, email: false })
  t.same(changed.json().types.welcome, { inApp: true, email: true })
  t.same((await prefs()).json().types['card.hidden'], { inApp: true, email: true }, 'others keep theirs')
  const partial = await put({ 'card.liked': { email: true } })
  t.same(partial.json().types['card.liked'], { inApp: false, email: true }, 'fields left out keep their setting')

  const security = await put({ 'security.password_reset': { email: false } })
  t.equal(security.statusCode, 400)
  t.equal(security.json().code, 'SECURITY_EMAIL_REQUIRED')
  t.match(security.json().detail, /security.password_reset/)
  t.equal((await put({ 'security.password_reset': { inApp: false } })).statusCode, 200, 'in-app may go off')
  const unknown = await put({ 'card.exploded': { email: true } })
  t.equal(unknown.statusCode, 400)
  t.equal(unknown.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.equal((await put({ 'card.liked': { email: 'yes' } })).statusCode, 400)

  // in-app off: a like makes no inbox entry.
  const card = randomUUID()
  await ta.publish(makeEvent('holo.card.liked.v1', {
    subject: card, actorId: randomUUID(), data: { ownerId: me.id, likeCount: 1 }
  }), makeEvent('holo.card.hidden.v1', { subject: card, actorId: randomUUID(), data: { ownerId: me.id } }))
  await ta.drained()
  const items = (await ta.app.inject({ url: '/api/v1/notifications', headers: me.headers })).json().items
  t.same(items.map((n: NotificationItem) => n.type), ['card.hidden'], 'no inbox entry for card.liked')
})

t.test('retention keeps 90 days or the newest per user, whichever keeps more', async (t) => {
  const ta = await buildTestApp(t, { NOTIFICATIONS_KEEP_PER_USER: '6', NOTIFICATIONS_RETENTION_DAYS: '90' })
  const [a, b] = [ta.user(), ta.user()]
  await ta.publish(...Array.from({ length: 5 }, () => newLogin(a)), ...Array.from({ length: 2 }, () => newLogin(b)),
    ...Array.from({ length: 4 }, () => newLogin(a)))
  await ta.drained()
  // The oldest five of a's and both of b's are made 100 days old.
  const old = new Date(Date.now() - 100 * 86_400_000)
  await ta.deps.pool.query(
    `UPDATE notifications SET created_at = $1 WHERE id IN (
       SELECT id FROM notifications WHERE user_id = $2 ORDER BY id LIMIT 5) OR user_id = $3`, [old, a.id, b.id])
  const pruned = await ta.app.notifications.prune()
  t.equal(pruned.notifications, 3, 'a keeps its 4 recent and its 2 newest old ones (6 in all); b keeps its 2 old ones')
  const count = async (u: TestUser): Promise<number> =>
    (await ta.app.inject({ url: '/api/v1/notifications?limit=100', headers: u.headers })).json().items.length
  t.equal(await count(a), 6)
  t.equal(await count(b), 2)
})
