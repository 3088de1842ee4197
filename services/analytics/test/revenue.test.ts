// Revenue in the rollups: billing's payment.succeeded and payment.refunded, per currency and bucket, once each.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeEvent } from '@holo/events'
import { buildTestApp } from './helper.js'

t.test('payments and refunds add to the rollups by currency, once each', async (t) => {
  const ta = await buildTestApp(t)
  const admin = ta.user(['admin'])
  const buyer = randomUUID()
  const author = randomUUID()
  const template = randomUUID()
  const paid = (amount: number, currency: string, time: string, actor?: string) => makeEvent('holo.payment.succeeded.v1', {
    subject: randomUUID(),
    actorId: actor,
    time: new Date(time),
    data: {
      userId: buyer, product: 'template', templateId: template, authorId: author, amount, currency,
      platformFee: Math.round(amount / 5), stripeFee: null, authorNet: amount - Math.round(amount / 5)
    }
  })
  const eur = paid(1000, 'eur', '2026-03-10T10:15:00Z', buyer)
  const usd = paid(500, 'usd', '2026-03-10T11:05:00Z')
  const plus = paid(499, 'eur', '2026-03-10T11:45:00Z')
  const refund = makeEvent('holo.payment.refunded.v1', {
    subject: eur.subject,
    actorId: randomUUID(),
    time: new Date('2026-03-10T12:30:00Z'),
    data: { userId: buyer, product: 'template', templateId: template, authorId: author, amount: 1000, currency: 'eur' }
  })
  await ta.publish(refund, eur, usd, plus, eur)
  await ta.drained()

  const res = await ta.app.inject({
    url: '/api/v1/analytics/overview?granularity=hour&from=2026-03-10T10:00:00Z&to=2026-03-10T13:00:00Z',
    headers: admin.headers
  })
  t.equal(res.statusCode, 200)
  const body = res.json()
  const values = (series: Array<{ value: number }>) => series.map((p) => p.value)
  t.same(values(body.series.payments), [1, 2, 0], 'payments per hour (a redelivered one counted once)')
  t.same(values(body.series.refunds), [0, 0, 1])
  t.same(body.revenue.map((r: { currency: string }) => r.currency), ['eur', 'usd'])
  const [e, u] = body.revenue
  t.same(values(e.gross), [1000, 499, 0], 'eur received per hour, in minor units')
  t.same(values(e.refunded), [0, 0, 1000])
  t.same(values(e.net), [1000, 499, -1000])
  t.same(values(u.gross), [0, 500, 0])

  const day = (await ta.app.inject({
    url: '/api/v1/analytics/overview?granularity=day&from=2026-03-10T00:00:00Z&to=2026-03-11T00:00:00Z', headers: admin.headers
  })).json()
  t.same(values(day.revenue[0].net), [499], 'a day is the sum of its hours')

  const metrics = (await ta.app.inject({ url: '/metrics' })).body
  t.match(metrics, /^holo_payments_total\{[^}]*\} 3$/m)
  t.match(metrics, /^holo_refunds_total\{[^}]*\} 1$/m)
  t.match(metrics, /^holo_revenue_minor_units_total\{currency="eur"[^}]*\} 1499$/m)
  t.match(metrics, /^holo_revenue_minor_units_total\{currency="usd"[^}]*\} 500$/m)
  t.match(metrics, /^holo_refunded_minor_units_total\{currency="eur"[^}]*\} 1000$/m)
})
