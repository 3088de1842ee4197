// Several instances of the service share the audit group's work: every event logged once, the appends serialised
// by the chain's advisory lock so the chain still verifies, seq 1..n without a gap.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { makeEvent, type HoloEvent } from '@holo/events'
import { buildTestApp, eventually, get, startInstance } from './helper.js'

const applied = async (app: FastifyInstance): Promise<number> =>
  ((await app.metrics.getSingleMetric('events_consumed_total')?.get())?.values ?? [])
    .filter((v) => v.labels.outcome === 'applied').reduce((sum, v) => sum + v.value, 0)

t.test('two instances on one database and prefix: the work is shared, no row twice, the chain verifies', async (t) => {
  const env = { EVENTS_BATCH_SIZE: '5', EVENTS_CONCURRENCY: '4' }
  const a = await buildTestApp(t, env, { consumerName: 'a' })
  const b = await startInstance(t, a, { consumerName: 'b' })

  const events: Array<{ producer: 'auth' | 'card' | 'file', event: HoloEvent }> = []
  const actor = randomUUID()
  for (let i = 0; i < 100; i++) {
    const subject = randomUUID()
    const liked = makeEvent('holo.card.liked.v1', { subject, actorId: actor, data: { ownerId: actor, likeCount: i } })
    const verified = makeEvent('holo.user.email_verified.v1', {
      subject, actorId: subject, data: { email: `u${i}@example.com` }
    })
    const deleted = makeEvent('holo.file.deleted.v1', { subject, data: { ownerId: actor, size: i } })
    events.push(
      { producer: 'card', event: liked },
      { producer: 'auth', event: verified },
      { producer: 'file', event: deleted }
    )
  }
  // Every tenth event published twice, as a republish would: the two instances may race on the same id.
  await Promise.all(events.map(async ({ producer, event }, i) => {
    await a.publish(producer, event)
    if (i % 10 === 0) await a.publish(producer, event)
  }))

  t.ok(await eventually(async () => await a.logCount() === events.length, { timeoutMs: 30_000 }), 'all logged')
  const su = await a.superuser()
  const { rows: [stats] } = await su.query<{ n: number, ids: number, min: string, max: string }>(
    'SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids, min(seq) AS min, max(seq) AS max FROM audit.audit_log')
  t.same(stats, { n: 300, ids: 300, min: '1', max: '300' }, 'one row per event, seq 1..300')
  const byA = await applied(a.app)
  const byB = await applied(b.app)
  t.equal(byA + byB, 300, 'each event applied once across the instances')
  t.ok(byA > 0 && byB > 0, `both instances worked (a ${byA}, b ${byB})`)

  const verify = await get(a, '/api/v1/audit/verify', a.user(['admin']))
  t.match(verify.body, { ok: true, count: 300 })
  // Either instance answers the same.
  const viaB = await b.app.inject({ url: '/api/v1/audit/verify', headers: a.user(['admin']).headers })
  t.same(viaB.json(), verify.body)
})
