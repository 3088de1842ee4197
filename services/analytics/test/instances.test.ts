import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeEvent, type HoloEvent } from '@holo/events'
import { buildTestApp } from './helper.js'

const appliedBy = (text: string): number => [...text.matchAll(
  /^events_consumed_total\{[^}]*outcome="applied"[^}]*\} (\d+)$/gm
)].reduce((sum, m) => sum + Number(m[1]), 0)

t.test('two instances share the events and count each one once', async (t) => {
  // Small batches and several subjects at once, so both instances apply events and race on the same rows.
  const env = { EVENTS_BATCH_SIZE: '5', EVENTS_CONCURRENCY: '4' }
  const a = await buildTestApp(t, env, { consumerName: 'analytics-a' })
  const b = await buildTestApp(t, env, { consumerName: 'analytics-b', like: a })
  const admin = a.user(['admin'])
  const day = new Date('2026-04-01T12:00:00Z')
  const users = Array.from({ length: 20 }, () => randomUUID())
  const cards = Array.from({ length: 5 }, () => randomUUID())
  const events: HoloEvent[] = []
  users.forEach((u, i) => {
    for (let k = 0; k < 5; k++) {
      events.push(makeEvent('holo.user.logged_in.v1', {
        subject: u, actorId: u, time: new Date(day.getTime() + k * 60_000),
        data: { sessionId: randomUUID(), ip: '198.51.100.1', userAgent: 'test', newDevice: k === 0 }
      }))
    }
    events.push(makeEvent('holo.card.liked.v1', {
      subject: cards[i % cards.length] as string,
      actorId: u,
      time: day,
      data: { ownerId: users[0] as string, likeCount: 1 }
    }))
    events.push(makeEvent('holo.file.uploaded.v1', {
      subject: randomUUID(), actorId: u, time: day, data: { ownerId: u, size: 100 + i, contentType: 'image/png' }
    }))
  })
  // Every event twice: the copies may reach different instances at the same moment.
  await a.publish(...events, ...events)
  await a.drained()

  const res = await b.app.inject({
    url: '/api/v1/analytics/overview?granularity=day&from=2026-04-01T00:00:00Z&to=2026-04-02T00:00:00Z',
    headers: admin.headers
  })
  t.equal(res.statusCode, 200)
  const s = res.json().series
  t.equal(s.logins[0].value, 100)
  t.equal(s.likes[0].value, 20)
  t.equal(s.uploads[0].value, 20)
  t.equal(s.activeUsers[0].value, 20, 'each user once, whichever instance saw them')
  t.equal(s.bytesStored[0].value, users.reduce((sum, _u, i) => sum + 100 + i, 0))

  const appliedA = appliedBy((await a.app.inject({ url: '/metrics' })).body)
  const appliedB = appliedBy((await b.app.inject({ url: '/metrics' })).body)
  t.equal(appliedA + appliedB, events.length, 'each event applied by exactly one instance')
  t.ok(appliedA > 0 && appliedB > 0, `both instances applied events (${appliedA} and ${appliedB})`)
  const metricsB = (await b.app.inject({ url: '/metrics' })).body
  t.match(metricsB, /^holo_logins_total\{[^}]*\} 100$/m, 'every instance reports the same totals')
  t.match((await a.app.inject({ url: '/metrics' })).body, /^holo_logins_total\{[^}]*\} 100$/m)
})
