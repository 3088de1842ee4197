// Live delivery over Server-Sent Events, tickets and authentication, revocation and reauth, two instances:
// a real listening server and a real HTTP client (fetch's streaming body), real Redis and PostgreSQL.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeEvent } from '@holo/events'
import { revokedSessionKey } from '@holo/shared'
import { buildTestApp, eventually, type TestApp, type TestUser } from './helper.js'
import { notifications, openSse, type SseEvent } from './sse.js'
import { uuidv7, ZERO_ID } from '../src/ids.js'


const listen = async (ta: TestApp): Promise<string> => await ta.app.listen({ port: 0, host: '127.0.0.1' })
const like = (owner: TestUser, card: string = randomUUID()) => makeEvent('holo.card.liked.v1', {
  subject: card, actorId: randomUUID(), data: { ownerId: owner.id, likeCount: 1 }
})
const metricValue = (body: string, name: string, labels: string): number | undefined => {
  const line = body.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels))
  return line === undefined ? undefined : Number(line.split(' ').at(-1))
}
const env = { NOTIFICATIONS_HEARTBEAT_MS: '200', NOTIFICATIONS_SESSION_CHECK_MS: '250' }

t.test('SSE: the unread count first, a like reaches the owner live, heartbeats, metrics', async (t) => {
  const ta = await buildTestApp(t, env)
  const base = await listen(ta)
  const owner = ta.user()
  const sse = await openSse(`${base}/api/v1/notifications/stream`, owner.headers)
  t.teardown(sse.close)
  t.equal(sse.status, 200)
  t.match(sse.headers.get('content-type'), /^text\/event-stream/)
  t.equal(sse.headers.get('cache-control'), 'no-store')
  t.equal(sse.headers.get('x-accel-buffering'), 'no')
  await eventually(() => sse.events.length > 0, 'the first event')
  t.same(sse.events[0], { event: 'unread', data: '{"count":0}' }, 'the unread count on connect, no id')
  await ta.publish(like(owner))
  await eventually(() => notifications(sse.events).length === 1, 'the notification')
  const n = notifications(sse.events)[0]!
  const item = JSON.parse(n.data) as { id: string, type: string }
  t.equal(item.type, 'card.liked')
  t.equal(n.id, item.id, 'id: is the notification id')
  await eventually(() => sse.events.some((e) => e.event === 'unread' && e.data === '{"count":1}'), 'unread 1')
  await eventually(() => sse.comments.includes('ping'), 'a heartbeat')
  const openapi = (await ta.app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, unknown> }
  t.equal(openapi.paths['/api/v1/notifications/stream'], undefined, 'the endless stream is not an operation')
  t.ok(openapi.paths['/api/v1/notifications/stream-ticket'] !== undefined, 'tickets are documented')
  const metrics = (await ta.app.inject({ url: '/metrics' })).body
  t.equal(metricValue(metrics, 'notification_stream_connections', 'transport="sse"'), 1)
  t.equal(metricValue(metrics, 'notification_stream_events_total', 'kind="notification"'), 1)
  t.equal(metricValue(metrics, 'notification_delivery_latency_seconds_count', 'transport="sse"'), 1)
  sse.close()
  await eventually(async () => metricValue((await ta.app.inject({ url: '/metrics' })).body,
    'notification_stream_connections', 'transport="sse"') === 0, 'the connection gauge to drop')
  // fetch (undici) opens a spare connection when a streaming body is cancelled; it would hold app.close()
  // until the server's headers timeout. It has no request in flight.
  ta.app.server.closeAllConnections()
})

t.test('SSE resume: Last-Event-ID gets exactly the missed notifications in order, then live ones', async (t) => {
  const ta = await buildTestApp(t, env)
  const base = await listen(ta)
  const owner = ta.user()
  const first = await openSse(`${base}/api/v1/notifications/stream`, owner.headers)
  await ta.publish(like(owner))
  await eventually(() => notifications(first.events).length === 1, 'the first notification')
  const seen = notifications(first.events)[0]!.id as string
  first.close()
  // Missed while away: 120 (more than one backlog page), one of them removed again (an unlike).
  // (live messages are published after the commit: wait for the last one before coming back)
  const heard = await ta.listen(owner.id)
  const [card, actor] = [randomUUID(), randomUUID()]
  const missed = Array.from({ length: 120 }, () => like(owner))
  await ta.publish(...missed, makeEvent('holo.card.liked.v1', {
    subject: card, actorId: actor, data: { ownerId: owner.id, likeCount: 1 }
  }))
  await ta.publish(makeEvent('holo.card.unliked.v1', {
    subject: card, actorId: actor, data: { ownerId: owner.id, likeCount: 0 }
  }))
  await ta.drained()
  await eventually(() => heard.some((m) => m.kind === 'removed') && heard.at(-1)?.kind === 'unread',
    'the messages of the unlike')
  const expected = (await ta.app.notifications.repository.since(owner.id, seen, 1000)).map((n) => n.id)
  t.equal(expected.length, 120)
  const sse = await openSse(`${base}/api/v1/notifications/stream`, { ...owner.headers, 'last-event-id': seen })
  t.teardown(sse.close)
  await eventually(() => notifications(sse.events).length === 120, 'the backlog')
  t.same(sse.events[0], { event: 'unread', data: '{"count":121}' }, 'the unread count first')
  t.same(notifications(sse.events).map((e) => e.id), expected, 'exactly the missed ones, oldest first')
  await ta.publish(like(owner))
  await eventually(() => notifications(sse.events).length === 121, 'the live one')
  const ids = notifications(sse.events).map((e) => e.id as string)
  t.equal(new Set(ids).size, ids.length, 'no duplicates')
  t.same(ids, [...ids].sort(), 'in id order')

  // ?lastEventId= for clients that cannot set the header
  const q = await openSse(`${base}/api/v1/notifications/stream?lastEventId=${expected[118] as string}`, owner.headers)
  t.teardown(q.close)
  await eventually(() => notifications(q.events).length === 2, 'the last two')
  t.same(notifications(q.events).map((e) => e.id), [expected[119], ids[120]])
  const bad = await fetch(`${base}/api/v1/notifications/stream?lastEventId=nope`, { headers: owner.headers })
  t.equal(bad.status, 400)
})

t.test('tickets: single use, expire with the token; no auth is a 401 problem', async (t) => {
  const ta = await buildTestApp(t, env)
  const base = await listen(ta)
  const owner = ta.user()
  const none = await fetch(`${base}/api/v1/notifications/stream`)
  t.equal(none.status, 401)
  t.match(none.headers.get('content-type'), /^application\/problem\+json/)
  t.equal((await none.json() as { code: string }).code, 'UNAUTHORIZED')
  const forged = await fetch(`${base}/api/v1/notifications/stream?ticket=${'x'.repeat(43)}`)
  t.equal(forged.status, 401)
  t.equal((await forged.json() as { code: string }).code, 'STREAM_TICKET_INVALID')
  const badToken = await fetch(`${base}/api/v1/notifications/stream`, { headers: { authorization: 'Bearer x.y.z' } })
  t.equal(badToken.status, 401)
  t.equal((await fetch(`${base}/api/v1/notifications/stream-ticket`, { method: 'POST' })).status, 401)

  const issued = await fetch(`${base}/api/v1/notifications/stream-ticket`, { method: 'POST', headers: owner.headers })
  t.equal(issued.status, 200)
  const { ticket, expiresIn } = await issued.json() as { ticket: string, expiresIn: number }
  t.equal(expiresIn, 30)
  const sse = await openSse(`${base}/api/v1/notifications/stream?ticket=${ticket}`)
  t.teardown(sse.close)
  t.equal(sse.status, 200)
  await ta.publish(like(owner))
  await eventually(() => notifications(sse.events).length === 1, 'the notification on the ticket stream')
  const again = await fetch(`${base}/api/v1/notifications/stream?ticket=${ticket}`)
  t.equal(again.status, 401, 'a ticket is single use')
  t.equal((await again.json() as { code: string }).code, 'STREAM_TICKET_INVALID')

  // A ticket lives no longer than its token.
  const shortToken = ta.issuer.token({ sub: owner.id, expiresIn: 1 })
  const short = await (await fetch(`${base}/api/v1/notifications/stream-ticket`, {
    method: 'POST', headers: { authorization: `Bearer ${shortToken}` }
  })).json() as { ticket: string, expiresIn: number }
  t.equal(short.expiresIn, 1)
  const until = (Math.floor(Date.now() / 1000) + 2) * 1000
  await eventually(() => Date.now() > until, 'the ticket to expire', 5000)
  const expired = await fetch(`${base}/api/v1/notifications/stream?ticket=${short.ticket}`)
  t.equal(expired.status, 401, 'an expired ticket')
})

t.test('a revoked session closes its streams; an expired token gets reauth', async (t) => {
  const ta = await buildTestApp(t, env)
  const base = await listen(ta)
  const userId = randomUUID()
  const sid = randomUUID()
  const token = ta.issuer.token({ sub: userId, sid })
  const other = ta.issuer.token({ sub: userId })
  const sse = await openSse(`${base}/api/v1/notifications/stream`, { authorization: `Bearer ${token}` })
  const kept = await openSse(`${base}/api/v1/notifications/stream`, { authorization: `Bearer ${other}` })
  t.teardown(kept.close)
  await eventually(() => sse.events.length > 0 && kept.events.length > 0, 'both streams')
  await ta.deps.redis.set(revokedSessionKey(sid), '1', 'EX', 60)
  const revokedAt = Date.now()
  await eventually(() => sse.ended(), 'the revoked stream to end', 2500)
  t.ok(Date.now() - revokedAt < 2500, 'closed within the check period')
  t.notOk(kept.ended(), 'another session\'s stream stays open')

  const shortToken = ta.issuer.token({ sub: userId, expiresIn: 2 })
  const short = await openSse(`${base}/api/v1/notifications/stream`, { authorization: `Bearer ${shortToken}` })
  t.equal(short.status, 200)
  await eventually(() => short.ended(), 'the expired stream to end', 6000)
  t.same(short.events.at(-1), { event: 'reauth', data: '{}' })
})

t.test('two instances: a stream on A gets a notification consumed by B; closing A ends it', async (t) => {
  const a = await buildTestApp(t, { ...env, EVENTS_CONSUMER_ENABLED: 'false' })
  const b = await buildTestApp(t, env, { like: a })
  const base = await listen(a)
  const owner = a.user()
  const sse = await openSse(`${base}/api/v1/notifications/stream`, owner.headers)
  t.teardown(sse.close)
  await eventually(() => sse.events.length > 0, 'the unread count')
  await b.publish(like(owner))
  await b.drained()
  await eventually(() => notifications(sse.events).length === 1, 'the notification made by B')
  t.equal((JSON.parse(notifications(sse.events)[0]!.data) as { type: string }).type, 'card.liked')
  await a.app.close()
  await eventually(() => sse.ended(), 'the stream to end with the app')
  t.ok(sse.ended(), 'closing the app ends its streams')
})

t.test('announcements out of order: nothing skipped or sent twice; the next one in order is sent as announced', async (t) => {
  const ta = await buildTestApp(t, env)
  const base = await listen(ta)
  const owner = ta.user()
  const sse = await openSse(`${base}/api/v1/notifications/stream`, owner.headers)
  t.teardown(sse.close)
  await eventually(() => sse.events.some((e) => e.event === 'unread'), 'connected')
  // Notifications committed behind the publisher's back, as two instances' commits would be.
  const store = async (id: string): Promise<void> => {
    await ta.deps.pool.query(
      `INSERT INTO notifications (id, user_id, type, title, body, data) VALUES ($1, $2, 'welcome', 'stored', 'b', '{}')`,
      [id, owner.id])
  }
  const announce = async (id: string, previousId: string, title: string): Promise<void> => {
    const notification = {
      id, type: 'welcome', title, body: 'b', data: {}, createdAt: new Date().toISOString(), readAt: null
    }
    await ta.deps.redis.publish(`${ta.config.NOTIFICATIONS_CHANNEL_PREFIX}user:${owner.id}`,
      JSON.stringify({ kind: 'notification', notification, previousId }))
  }
  const titles = (): string[] => notifications(sse.events).map((e) => (JSON.parse(e.data) as { title: string }).title)
  const [n1, n2, n3, n4] = [uuidv7(), uuidv7(), uuidv7(), uuidv7()]
  // The stream has sent nothing yet: the first is read from the inbox.
  await store(n1)
  await announce(n1, ZERO_ID, 'announced')
  await eventually(() => notifications(sse.events).length === 1, 'the first')
  // The next names the last one sent as its predecessor: sent as announced, without reading the inbox.
  await store(n2)
  await announce(n2, n1, 'announced')
  await eventually(() => notifications(sse.events).length === 2, 'the second')
  // The fourth is announced before the third: the stream reads the inbox and sends both, in order; the late
  // announcement of the third changes nothing.
  await store(n3)
  await store(n4)
  await announce(n4, n3, 'announced')
  await eventually(() => notifications(sse.events).length === 4, 'the third and fourth')
  await announce(n3, n2, 'announced')
  await announce(n4, n3, 'announced')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(notifications(sse.events).map((e) => e.id), [n1, n2, n3, n4], 'in commit order, each once')
  t.same(titles(), ['stored', 'announced', 'stored', 'stored'], 'only the one in order was sent as announced')
})
