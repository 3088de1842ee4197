// A premium template bought, used, refunded; Holo+ on, cancelled at the period end: billing, the Stripe
// stand-in and the card service's enforcement together.
import t from 'tap'
import { buildBillingTest, eventually, pay } from './helper.js'

t.test('buy a template: entitlement, a card on it, the ledger; a refund revokes it and reverses the ledger', async (t) => {
  const b = await buildBillingTest(t)
  const author = b.user(['creator'])
  const buyer = b.user()
  const admin = b.user(['admin'])
  const tpl = await b.template(author, { price: { amount: 1000, currency: 'eur' } })

  t.equal(await b.createCard(buyer, tpl.id), 403, 'without an entitlement: 403')
  const started = await b.checkout(buyer, { templateId: tpl.id })
  t.equal(started.statusCode, 200, JSON.stringify(started.body))
  t.match(started.body, { sessionId: /^cs_test_/, url: /\/c\/pay\/cs_test_/, amount: 1000, currency: 'eur' })
  await pay(b, started.body.sessionId)

  const ents = await b.app.inject({ url: '/api/v1/billing/entitlements', headers: buyer.auth })
  t.match(ents.json().items, [{ product: 'template', templateId: tpl.id, active: true, validUntil: null }])
  await eventually(async () => await b.createCard(buyer, tpl.id) === 201, 'the card service to learn the entitlement')

  const purchases = (await b.app.inject({ url: '/api/v1/billing/purchases', headers: buyer.auth })).json()
  t.equal(purchases.items.length, 1)
  const payment = purchases.items[0]
  t.match(payment, { product: 'template', templateId: tpl.id, amount: 1000, currency: 'eur', status: 'succeeded' })
  t.equal((await b.app.inject({ url: `/api/v1/billing/purchases/${payment.id as string}`, headers: buyer.auth })).statusCode, 200)
  t.equal((await b.app.inject({ url: `/api/v1/billing/purchases/${payment.id as string}`, headers: b.user().auth })).statusCode,
    404, 'another user\'s purchase is a 404')

  // Stripe's fee of the stand-in: 2.9 % + 30 = 59; the platform's 20 % = 200; the author's net 741.
  const earnings = (await b.app.inject({ url: '/api/v1/billing/earnings', headers: author.auth })).json()
  t.same(earnings.totals, [{ currency: 'eur', gross: 1000, platformFee: 200, stripeFee: 59, net: 741, sales: 1, refunds: 0 }])
  t.equal(await b.checkout(buyer, { templateId: tpl.id }).then((r) => r.statusCode), 409, 'buying it again is a 409')

  const refund = await b.app.inject({ method: 'POST', url: `/api/v1/billing/payments/${payment.id as string}/refund`, headers: admin.auth })
  t.equal(refund.statusCode, 200, refund.body)
  t.match(refund.json(), { status: 'refunded' })
  const again = await b.app.inject({ method: 'POST', url: `/api/v1/billing/payments/${payment.id as string}/refund`, headers: admin.auth })
  t.equal(again.statusCode, 409, 'refunding a refunded payment is a 409')
  t.equal(again.json().code, 'ALREADY_REFUNDED')
  t.equal((await b.app.inject({ method: 'POST', url: `/api/v1/billing/payments/${payment.id as string}/refund`, headers: buyer.auth })).statusCode,
    403, 'only administrators refund')
  await eventually(async () => await b.createCard(buyer, tpl.id) === 403, 'the card service to learn the revocation')
  await b.standin.idle()

  const after = (await b.app.inject({ url: '/api/v1/billing/earnings', headers: author.auth })).json()
  t.same(after.totals, [{ currency: 'eur', gross: 0, platformFee: 0, stripeFee: 0, net: 0, sales: 1, refunds: 1 }], 'reversed')
  const balance = await b.sql<{ account: string, sum: string }>(
    'SELECT account, sum(amount)::text AS sum FROM ledger_entries GROUP BY account ORDER BY account')
  t.same(balance.map((r) => [r.account, Number(r.sum)]), [['author', 0], ['customer', 0], ['platform', 0], ['stripe', 0]],
    'every account is back to zero after the refund')
  const perPayment = await b.sql<{ sum: string }>('SELECT sum(amount)::text AS sum FROM ledger_entries GROUP BY payment_id, kind')
  t.ok(perPayment.every((r) => Number(r.sum) === 0), 'each sale and each refund sums to zero')
  const outbox = await b.sql<{ type: string, actor: string | null }>(
    `SELECT type, payload->>'actorid' AS actor FROM outbox ORDER BY created_at, id`)
  t.same(outbox.map((r) => r.type), [
    'holo.payment.succeeded.v1', 'holo.entitlement.granted.v1', 'holo.payment.refunded.v1', 'holo.entitlement.revoked.v1'
  ], 'the bus hears each fact once (Stripe\'s echo of the refund changes nothing)')
  t.equal(outbox[2]?.actor, admin.id, 'the refund names the administrator (the audit log records it)')

  const revenue = await b.app.inject({ url: '/api/v1/billing/revenue?granularity=day', headers: admin.auth })
  t.equal(revenue.statusCode, 200)
  t.match(revenue.json().totals, [{ currency: 'eur', payments: 1, refunds: 1, gross: 1000, refunded: 1000, stripeFees: 0, platform: 0, authors: 0 }])
  t.equal((await b.app.inject({ url: '/api/v1/billing/revenue', headers: buyer.auth })).statusCode, 403)
  const badRange = await b.app.inject({ url: '/api/v1/billing/revenue?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', headers: admin.auth })
  t.equal(badRange.statusCode, 400)
  t.equal(badRange.json().errors[0].field, 'from')
})

t.test('Holo+: every premium template while active; cancelled at the period end, refused within 5 s after it', async (t) => {
  const b = await buildBillingTest(t, {}, { standin: { periodSeconds: 4 } })
  const author = b.user(['creator'])
  const subscriber = b.user()
  const [one, two] = [await b.template(author), await b.template(author, { price: null })]

  const started = await b.checkout(subscriber, { plan: 'holo-plus' })
  t.equal(started.statusCode, 200, JSON.stringify(started.body))
  t.match(started.body, { amount: 499, currency: 'eur' })
  await pay(b, started.body.sessionId)
  await eventually(async () => await b.createCard(subscriber, one.id) === 201, 'Holo+ to reach the card service')
  t.equal(await b.createCard(subscriber, two.id), 201, 'every premium template, priced or not')
  t.equal((await b.checkout(subscriber, { plan: 'holo-plus' })).statusCode, 409, 'subscribing twice is a 409')

  const portal = await b.app.inject({ method: 'POST', url: '/api/v1/billing/portal', headers: subscriber.auth })
  t.equal(portal.statusCode, 200)
  t.match(portal.json().url, /\/p\/session\/bps_/)
  t.equal((await b.app.inject({ method: 'POST', url: '/api/v1/billing/portal', headers: b.user().auth })).statusCode, 404,
    'no portal before a first checkout')
  // The customer portal's form, as a browser would post it.
  const sub = (await b.sql<{ stripe_subscription_id: string, current_period_end: Date }>(
    'SELECT stripe_subscription_id, current_period_end FROM subscriptions'))[0]
  if (sub === undefined) throw new Error('no subscription recorded')
  const cancel = await fetch(`${String(portal.json().url)}/${sub.stripe_subscription_id}/cancel`, { method: 'POST', redirect: 'manual' })
  t.equal(cancel.status, 303)
  await b.standin.idle()
  const ents = (await b.app.inject({ url: '/api/v1/billing/entitlements', headers: subscriber.auth })).json()
  t.match(ents.subscriptions, [{ status: 'active', cancelAtPeriodEnd: true }], 'set to cancel at the period end')
  t.equal(await b.createCard(subscriber, one.id), 201, 'still usable until the period ends')

  const end = new Date(ents.subscriptions[0].currentPeriodEnd as string).getTime()
  await eventually(async () => await b.createCard(subscriber, one.id) === 403, 'the refusal after the period end', 12_000)
  const refusedAt = Date.now()
  t.ok(refusedAt >= end - 50, 'not before the period ended')
  t.ok(refusedAt - end < 5000, `refused ${refusedAt - end} ms after the end (at most 5 s)`)
  await eventually(async () => (await b.sql('SELECT 1 FROM entitlements WHERE revoked_at IS NOT NULL')).length === 1,
    'customer.subscription.deleted to revoke it in billing')
  const outbox = await b.sql<{ type: string }>('SELECT type FROM outbox ORDER BY created_at, id')
  t.ok(outbox.some((r) => r.type === 'holo.subscription.changed.v1'), 'subscription.changed published')
  t.ok(outbox.some((r) => r.type === 'holo.entitlement.revoked.v1'), 'and entitlement.revoked')
})
