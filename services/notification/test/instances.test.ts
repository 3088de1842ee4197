// Two instances share the events; one closed mid-way loses nothing, and each event takes effect once.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeEvent, type HoloEvent } from '@holo/events'
import { buildTestApp, eventually } from './helper.js'

t.test('an instance closed mid-way: the other finishes, each event applied once', async (t) => {
  const env = { EVENTS_BATCH_SIZE: '5', EVENTS_CLAIM_IDLE_MS: '500' }
  const a = await buildTestApp(t, env, { consumerName: 'notification-a' })
  const users = Array.from({ length: 10 }, () => a.user())
  const events: HoloEvent[] = []
  for (const u of users) {
    for (let i = 0; i < 20; i++) {
      events.push(makeEvent('holo.user.logged_in.v1', {
        subject: u.id,
        actorId: u.id,
        data: { sessionId: randomUUID(), ip: '203.0.113.9', userAgent: null, newDevice: true }
      }))
    }
  }
  await a.publish(...events)
  // a starts working, then goes away in the middle of the stream.
  await eventually(async () => (await a.deps.pool.query('SELECT 1 FROM notifications LIMIT 1')).rowCount === 1,
    'the first effects')
  const b = await buildTestApp(t, env, { consumerName: 'notification-b', like: a })
  await a.app.close()
  await a.publish(...events.slice(0, 20))
  await b.drained()
  const r = await b.deps.pool.query<{ n: number, users: number }>(
    'SELECT count(*)::int AS n, count(DISTINCT user_id)::int AS users FROM notifications')
  t.same(r.rows[0], { n: 200, users: 10 }, 'every event made its notification, none twice')
  for (const u of users.slice(0, 2)) {
    const res = await b.app.inject({ url: '/api/v1/notifications/unread-count', headers: u.headers })
    t.same(res.json(), { count: 20 })
  }
})
