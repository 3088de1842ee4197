// Stripe's webhooks: the signature on the raw body with the endpoint secret and a 5-minute tolerance, each
// event id applied once, unknown types ignored, and the same result whatever order events arrive in.
import t from 'tap'
import { buildBillingTest, pay, SECRET_KEY, WEBHOOK_SECRET, type BillingTest } from './helper.js'

const unknownEvent = (id = `evt_test_${Date.now()}`) => JSON.stringify({
  id, object: 'event', api_version: '2026-10-28.endive', created: Math.floor(Date.now() / 1000),
  data: { object: { id: 'prod_x', object: 'product' } }, livemode: false, pending_webhooks: 1,
  request: { id: null, idempotency_key: null }, type: 'product.created'
})

const counts = async (b: BillingTest) => ({
  events: (await b.sql('SELECT 1 FROM stripe_events')).length,
  payments: (await b.sql('SELECT 1 FROM payments')).length,
  ledger: (await b.sql('SELECT 1 FROM ledger_entries')).length,
  outbox: (await b.sql('SELECT 1 FROM outbox')).length
})

/** A purchase paid at the stand-in with delivery paused: its events, not delivered yet. */
async function paidNotDelivered (b: BillingTest): Promise<{ events: Array<{ id: string, type: string }>, templateId: string }> {
  const tpl = await b.template(b.user(['creator']))
  const started = await b.checkout(b.user(), { templateId: tpl.id })
  b.standin.pauseDelivery(true)
  const before = b.standin.events().length
  await b.standin.pay(started.body.sessionId)
  return { events: b.standin.events().slice(before) as unknown as Array<{ id: string, type: string }>, templateId: tpl.id }
}

t.test('bad deliveries are 400 and change nothing', async (t) => {
  const b = await buildBillingTest(t)
  const payload = unknownEvent()
  const cases: Array<[string, Parameters<BillingTest['webhook']>[1], string]> = [
    ['unsigned', { signature: null }, 'missing'],
    ['mis-signed', { secret: 'whsec_someone_else' }, 'no signature matches'],
    ['stale (6 minutes old)', { timestamp: Math.floor(Date.now() / 1000) - 360 }, 'older than 300 s'],
    ['garbage header', { signature: 'not a signature' }, 'no signature matches'],
    ['from the future beyond the tolerance', { timestamp: Math.floor(Date.now() / 1000) + 600 }, 'in the future']
  ]
  for (const [what, o, detail] of cases) {
    const res = await b.webhook(payload, o)
    t.equal(res.statusCode, 400, what)
    t.match(res.json(), { code: 'WEBHOOK_SIGNATURE_INVALID', detail: new RegExp(detail) }, what)
  }
  // Signed, then changed on the way.
  const { stripeSignature } = await import('@holo/stripe-standin')
  const sig = stripeSignature(payload, WEBHOOK_SECRET)
  const tampered = await b.webhook(payload.replace('product.created', 'charge.refunded'), { signature: sig })
  t.equal(tampered.statusCode, 400, 'a body changed after signing')
  const notJson = await b.webhook('{"id": "evt_1", ', {})
  t.equal(notJson.statusCode, 400, 'a signed body that is not JSON')
  t.equal(notJson.json().code, 'WEBHOOK_PAYLOAD_INVALID')
  t.same(await counts(b), { events: 0, payments: 0, ledger: 0, outbox: 0 }, 'nothing recorded')

  const recent = await b.webhook(payload, { timestamp: Math.floor(Date.now() / 1000) - 240 })
  t.equal(recent.statusCode, 200, 'four minutes old is within the tolerance')
  t.same(recent.json(), { received: true, outcome: 'ignored' }, 'an unknown type is acknowledged and ignored')
})

t.test('a repeated event is applied once, even two deliveries at once', async (t) => {
  const b = await buildBillingTest(t)
  const { events } = await paidNotDelivered(b)
  const completed = events.find((e) => e.type === 'checkout.session.completed')
  if (completed === undefined) throw new Error('no checkout.session.completed')
  const [x, y] = await Promise.all([b.standin.deliver(completed.id), b.standin.deliver(completed.id)])
  t.same([x, y], [200, 200])
  const after = await counts(b)
  t.match(after, { events: 1, payments: 1, ledger: 4, outbox: 2 }, 'one payment, its four ledger entries, two bus events')
  t.equal(await b.standin.deliver(completed.id), 200, 'a later repeat')
  t.same(await counts(b), after, 'changes nothing')
  const replay = await b.webhook(JSON.stringify(b.standin.object(completed.id)))
  t.same(replay.json(), { received: true, outcome: 'duplicate' })
})

t.test('out of order: a refund reported before its payment ends where the right order ends', async (t) => {
  const runs: Array<Record<string, unknown>> = []
  for (const order of ['in order', 'refund first'] as const) {
    const b = await buildBillingTest(t)
    const { events, templateId } = await paidNotDelivered(b)
    // A refund made in Stripe's dashboard (no admin of ours): the API call the dashboard makes.
    const completed = events.find((e) => e.type === 'checkout.session.completed') as { id: string }
    const session = b.standin.object(completed.id) as unknown as { data: { object: { payment_intent: string } } }
    const res = await fetch(`${b.standin.url}/v1/refunds`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET_KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: `payment_intent=${session.data.object.payment_intent}`
    })
    t.equal(res.status, 200)
    const refunded = b.standin.events().find((e) => e.type === 'charge.refunded') as { id: string }
    const sequence = order === 'in order' ? [completed.id, refunded.id] : [refunded.id, completed.id]
    for (const id of [...sequence, ...sequence]) t.equal(await b.standin.deliver(id), 200, `${order}: ${id}`)
    runs.push({
      payments: await b.sql('SELECT status, amount, template_id::text FROM payments'),
      entitlements: await b.sql('SELECT revoked_reason, (revoked_at IS NOT NULL) AS revoked FROM entitlements'),
      ledger: await b.sql('SELECT kind, account, amount::int FROM ledger_entries ORDER BY kind, account'),
      outbox: (await b.sql<{ type: string }>('SELECT type FROM outbox ORDER BY type')).map((r) => r.type),
      templateId
    })
  }
  const [a, z] = runs as [Record<string, any>, Record<string, any>]
  t.same({ ...z, payments: z.payments.map((p: any) => ({ ...p, template_id: 'x' })), templateId: 'x' },
    { ...a, payments: a.payments.map((p: any) => ({ ...p, template_id: 'x' })), templateId: 'x' }, 'the same end state')
  t.match(a.payments, [{ status: 'refunded', amount: 499 }])
  t.match(a.entitlements, [{ revoked: true, revoked_reason: 'refunded' }])
  t.equal(a.ledger.reduce((s: number, e: { amount: number }) => s + e.amount, 0), 0, 'the ledger balances')
})

t.test('Stripe unreachable while handling: 503, nothing recorded, and the redelivery applies it', async (t) => {
  const b = await buildBillingTest(t)
  const { events } = await paidNotDelivered(b)
  const completed = events.find((e) => e.type === 'checkout.session.completed') as { id: string }
  const payload = JSON.stringify(b.standin.object(completed.id))
  await b.standin.stop()
  const res = await b.webhook(payload)
  t.equal(res.statusCode, 503)
  t.match(res.json(), { dependency: 'stripe' })
  t.same(await counts(b), { events: 0, payments: 0, ledger: 0, outbox: 0 }, 'no half-written rows')
})

t.test('bought again after a refund: the same entitlement row granted again, by the second payment', async (t) => {
  // The first sale takes the one-statement path; the second finds the user's refunded entitlement row and
  // goes through the transaction, which grants that row again.
  const b = await buildBillingTest(t)
  const tpl = await b.template(b.user(['creator']))
  const buyer = b.user()
  const admin = b.user(['admin'])
  await pay(b, (await b.checkout(buyer, { templateId: tpl.id })).body.sessionId)
  const [first] = await b.sql<{ id: string }>('SELECT id::text FROM payments')
  const [granted] = await b.sql<{ id: string, payment_id: string }>('SELECT id::text, payment_id::text FROM entitlements')
  t.equal(granted?.payment_id, first?.id, 'granted by the first payment')
  const refund = await b.app.inject({ method: 'POST', url: `/api/v1/billing/payments/${first?.id as string}/refund`, headers: admin.auth })
  t.equal(refund.statusCode, 200, refund.body)
  await b.standin.idle()

  const again = await b.checkout(buyer, { templateId: tpl.id })
  t.equal(again.statusCode, 200, 'a refunded template can be bought again')
  await pay(b, again.body.sessionId)
  const payments = await b.sql<{ id: string, status: string }>('SELECT id::text, status FROM payments ORDER BY created_at, id')
  t.same(payments.map((p) => p.status), ['refunded', 'succeeded'])
  const ents = await b.sql<{ id: string, payment_id: string, revoked_at: Date | null }>(
    'SELECT id::text, payment_id::text, revoked_at FROM entitlements')
  t.same(ents, [{ id: granted?.id, payment_id: payments[1]?.id, revoked_at: null }], 'one row, in force, by the second payment')
  const outbox = await b.sql<{ type: string, subject: string, seq: number }>(
    `SELECT type, subject, (payload->>'subjectseq')::int AS seq FROM outbox ORDER BY created_at, id`)
  t.same(outbox.map((r) => [r.type, r.subject, r.seq]), [
    ['holo.payment.succeeded.v1', first?.id, 1],
    ['holo.entitlement.granted.v1', granted?.id, 1],
    ['holo.payment.refunded.v1', first?.id, 2],
    ['holo.entitlement.revoked.v1', granted?.id, 2],
    ['holo.payment.succeeded.v1', payments[1]?.id, 1],
    ['holo.entitlement.granted.v1', granted?.id, 3]
  ], 'each fact once, numbered per subject')
  const sums = await b.sql<{ sum: string }>('SELECT sum(amount)::text AS sum FROM ledger_entries GROUP BY payment_id, kind')
  t.equal(sums.length, 3, 'two sales and one refund')
  t.ok(sums.every((r) => Number(r.sum) === 0), 'each sums to zero')
})
