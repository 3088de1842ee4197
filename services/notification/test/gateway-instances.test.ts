// Two notification instances behind the real nginx gateway: streams opened through the gateway land on both,
// only instance B consumes the bus, and every stream, on A as on B, gets each notification once, in order.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeEvent } from '@holo/events'
import { testGateway } from '@holo/infra/testing'
import { buildTestApp, eventually, type TestApp } from './helper.js'
import { notifications, openSse, type SseClient } from './sse.js'

const CLOSED = '127.0.0.1:9'

const openStreams = async (ta: TestApp): Promise<number> => {
  const text = (await ta.app.inject({ url: '/metrics' })).body
  const m = /^notification_stream_connections\{[^}]*transport="sse"[^}]*\} (\d+)/m.exec(text)
  return Number(m?.[1] ?? 0)
}

t.test('a stream on instance A gets what instance B consumed, through nginx', async (t) => {
  // A serves streams and the API only; B also consumes the bus.
  const b = await buildTestApp(t, {}, { consumerName: 'notification-b' })
  const a = await buildTestApp(t, { EVENTS_CONSUMER_ENABLED: 'false' }, { like: b })
  const ports: number[] = []
  for (const ta of [a, b]) {
    await ta.app.listen({ host: '127.0.0.1', port: 0 })
    ports.push((ta.app.server.address() as { port: number }).port)
  }
  // The gateway's notification upstream, with both instances in it (round robin).
  const gateway = await testGateway(t, {
    auth: CLOSED,
    card: CLOSED,
    file: CLOSED,
    notification: `127.0.0.1:${ports[0] as number} max_fails=0; server 127.0.0.1:${ports[1] as number}`
  })

  const me = b.user()
  const streams: SseClient[] = []
  for (let i = 0; i < 4; i++) {
    const s = await openSse(`${gateway.url}/api/v1/notifications/stream`, me.headers)
    t.teardown(() => { s.close() })
    t.equal(s.status, 200, `stream ${i} opens through nginx`)
    streams.push(s)
  }
  await eventually(async () => await openStreams(a) + await openStreams(b) === 4, 'four open streams')
  t.ok(await openStreams(a) > 0, 'some streams are held by instance A')
  t.ok(await openStreams(b) > 0, 'and some by instance B')
  await eventually(() => streams.every((s) => s.events.some((e) => e.event === 'unread')), 'each stream\'s count')

  const logins = Array.from({ length: 5 }, () => makeEvent('holo.user.logged_in.v1', {
    subject: me.id, actorId: me.id, data: { sessionId: randomUUID(), ip: '203.0.113.7', userAgent: null, newDevice: true }
  }))
  await b.publish(...logins)
  await b.drained()
  await eventually(() => streams.every((s) => notifications(s.events).length === 5 &&
    s.events.some((e) => e.event === 'unread' && e.data === '{"count":5}')), 'five notifications and the count on each')
  const inbox = (await a.app.inject({ url: '/api/v1/notifications?limit=10', headers: me.headers })).json()
  const newestFirst = (inbox.items as Array<{ id: string }>).map((n) => n.id)
  for (const [i, s] of streams.entries()) {
    const ids = notifications(s.events).map((e) => e.id)
    t.same(ids, [...newestFirst].reverse(), `stream ${i}: each notification once, oldest first`)
  }
})
