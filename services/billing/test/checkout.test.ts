// Starting a checkout: the price is the server's, a double click makes one session, what one owns is a 409,
// what cannot be bought is a 4xx, and a dependency down is a 503 naming it.
import t from 'tap'
import { freePort } from '@holo/infra/testing'
import { buildBillingTest, pay } from './helper.js'

t.test('checkout rules', async (t) => {
  const b = await buildBillingTest(t)
  const author = b.user(['creator'])
  const buyer = b.user()

  t.test('needs a token', async (t) => {
    const res = await b.app.inject({ method: 'POST', url: '/api/v1/billing/checkout', payload: { plan: 'holo-plus' } })
    t.equal(res.statusCode, 401)
  })

  t.test('the client cannot name a price, nor anything but a template id or the plan', async (t) => {
    const tpl = await b.template(author)
    for (const body of [{ templateId: tpl.id, amount: 1 }, { plan: 'holo-minus' }, {}, { templateId: 'nope' }]) {
      const res = await b.checkout(buyer, body)
      t.equal(res.statusCode, 400, JSON.stringify(body))
      t.equal(res.body.code, 'VALIDATION_FAILED')
    }
    t.equal((await b.sql('SELECT 1 FROM checkouts')).length, 0, 'nothing was written')
  })

  t.test('what cannot be bought', async (t) => {
    const missing = await b.checkout(buyer, { templateId: '0190b6c5-8a4c-7cc0-8000-00000000dead' })
    t.equal(missing.statusCode, 404)
    t.equal(missing.body.code, 'TEMPLATE_NOT_FOUND')
    const draft = await b.template(author, { status: 'draft' })
    t.equal((await b.checkout(buyer, { templateId: draft.id })).statusCode, 404, 'a draft is not there for buyers')
    const free = await b.template(author, { premium: false, price: null })
    const notPremium = await b.checkout(buyer, { templateId: free.id })
    t.equal(notPremium.statusCode, 400)
    t.match(notPremium.body, { code: 'TEMPLATE_NOT_FOR_SALE', detail: /not premium/, errors: [{ field: 'templateId' }] })
    const unpriced = await b.template(author, { price: null })
    t.match((await b.checkout(buyer, { templateId: unpriced.id })).body, { status: 400, detail: /not set a price/ })
    const archived = await b.template(author)
    await b.card.inject({ method: 'PATCH', url: `/api/v1/templates/${archived.id}`, headers: author.auth, payload: { status: 'archived' } })
    t.match((await b.checkout(buyer, { templateId: archived.id })).body, { status: 400, detail: /archived/ })
    const own = await b.checkout(author, { templateId: (await b.template(author)).id })
    t.equal(own.statusCode, 409, 'its author owns it already')
    t.equal(own.body.code, 'ALREADY_OWNED')
  })

  t.test('a double click makes one Checkout Session', async (t) => {
    const tpl = await b.template(author, { price: { amount: 700, currency: 'usd' } })
    const [x, y] = await Promise.all([b.checkout(buyer, { templateId: tpl.id }), b.checkout(buyer, { templateId: tpl.id })])
    t.equal(x.statusCode, 200)
    t.equal(y.statusCode, 200)
    t.equal(x.body.sessionId, y.body.sessionId, 'the same session')
    const later = await b.checkout(buyer, { templateId: tpl.id })
    t.equal(later.body.sessionId, x.body.sessionId, 'and again a moment later')
    t.equal((await b.sql('SELECT 1 FROM checkouts WHERE template_id = $1', tpl.id)).length, 1, 'one checkout row')
    const sessions = b.standin.events().length
    t.ok(sessions >= 0)
    t.match(b.standin.object(x.body.sessionId), { object: 'checkout.session', amount_total: 700, currency: 'usd', status: 'open' })
  })

  t.test('a price change after a checkout started does not change what it charges', async (t) => {
    const tpl = await b.template(author, { price: { amount: 1000, currency: 'eur' } })
    const first = await b.checkout(buyer, { templateId: tpl.id })
    const patched = await b.card.inject({
      method: 'PATCH', url: `/api/v1/templates/${tpl.id}`, headers: author.auth, payload: { price: { amount: 2500, currency: 'eur' } }
    })
    t.equal(patched.statusCode, 200)
    const second = await b.checkout(buyer, { templateId: tpl.id })
    t.not(second.body.sessionId, first.body.sessionId, 'a new checkout at the new price')
    t.equal(second.body.amount, 2500)
    // The buyer pays the first page they were sent to.
    await pay(b, first.body.sessionId)
    const [payment] = await b.sql<{ amount: number }>('SELECT amount FROM payments WHERE template_id = $1', tpl.id)
    t.equal(payment?.amount, 1000, 'the checkout that started at 10.00 charged 10.00')
    t.equal((await b.checkout(buyer, { templateId: tpl.id })).statusCode, 409, 'owned now')
  })

  t.test('Holo+ is a subscription at the configured price', async (t) => {
    const res = await b.checkout(b.user(), { plan: 'holo-plus' })
    t.equal(res.statusCode, 200)
    t.match(b.standin.object(res.body.sessionId), { mode: 'subscription', amount_total: 499, currency: 'eur' })
  })
})

t.test('a dependency down is a 503 naming it, and writes nothing', async (t) => {
  const closed = `http://127.0.0.1:${await freePort()}`
  const noCard = await buildBillingTest(t, { CARD_SERVICE_URL: closed })
  const res = await noCard.checkout(noCard.user(), { templateId: '0190b6c5-8a4c-7cc0-8000-00000000c0de' })
  t.equal(res.statusCode, 503)
  t.match(res.body, { code: 'DEPENDENCY_UNAVAILABLE', dependency: 'card' })

  const noStripe = await buildBillingTest(t, { STRIPE_API_URL: closed, STRIPE_TIMEOUT_MS: '500' })
  const down = await noStripe.checkout(noStripe.user(), { plan: 'holo-plus' })
  t.equal(down.statusCode, 503)
  t.match(down.body, { code: 'DEPENDENCY_UNAVAILABLE', dependency: 'stripe' })
  t.equal((await noStripe.sql('SELECT 1 FROM checkouts')).length, 0, 'no checkout without a customer')
})
