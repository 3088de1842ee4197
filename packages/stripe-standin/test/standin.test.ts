// The stand-in speaks Stripe's protocol: form encoding, Bearer keys, Idempotency-Key replays and conflicts,
// errors in Stripe's shape, and webhooks signed as Stripe signs them.
import { createHmac } from 'node:crypto'
import { createServer } from 'node:http'
import t from 'tap'
import { parseStripeForm, startStripeStandin, stripeSignature } from '../src/index.js'

const KEY = 'sk_test_standin_suite'

t.test('form encoding as the Stripe libraries write it', async (t) => {
  t.same(parseStripeForm('a=1&b[c]=2&b[d][0][e]=3&expand[0]=x&expand[1]=y&m[]=p&m[]=q'), {
    a: '1', b: { c: '2', d: [{ e: '3' }] }, expand: ['x', 'y'], m: ['p', 'q']
  })
})

t.test('the API: keys, idempotency, Stripe\'s errors, a paid checkout and its signed webhooks', async (t) => {
  const received: Array<{ body: string, signature: string }> = []
  const hook = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => { received.push({ body, signature: String(req.headers['stripe-signature']) }); res.end('{}') })
  })
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { hook.close() })
  const port = (hook.address() as { port: number }).port
  const s = await startStripeStandin({
    port: 0, secretKey: KEY, webhookSecret: 'whsec_suite', webhookUrl: `http://127.0.0.1:${port}/hook`
  })
  t.teardown(() => s.stop())
  const call = async (method: string, path: string, form?: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await fetch(`${s.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: form === undefined ? undefined : new URLSearchParams(form).toString()
    })
    return { status: res.status, headers: res.headers, body: await res.json() as any }
  }

  const anonymous = await fetch(`${s.url}/v1/customers/cus_x`)
  t.equal(anonymous.status, 401)
  t.match(await anonymous.json(), { error: { type: 'invalid_request_error', message: /API key/ } })
  t.match(await call('GET', '/v1/customers/cus_nope'), {
    status: 404, body: { error: { type: 'invalid_request_error', code: 'resource_missing', param: 'id' } }
  })
  t.match(await call('POST', '/v1/checkout/sessions', { mode: 'payment' }), {
    status: 400, body: { error: { code: 'parameter_missing', param: 'success_url' } }
  })

  const form = {
    mode: 'payment',
    success_url: 'https://example.test/ok?session_id={CHECKOUT_SESSION_ID}',
    'line_items[0][quantity]': '1',
    'line_items[0][price_data][currency]': 'eur',
    'line_items[0][price_data][unit_amount]': '1000',
    'line_items[0][price_data][product_data][name]': 'Nebula',
    'payment_intent_data[metadata][userId]': 'u1'
  }
  const first = await call('POST', '/v1/checkout/sessions', form, { 'idempotency-key': 'k1' })
  t.equal(first.status, 200)
  t.match(first.body, { object: 'checkout.session', status: 'open', amount_total: 1000, currency: 'eur', mode: 'payment' })
  t.notOk('payment_intent_data' in first.body, 'internal fields are not returned')
  const replay = await call('POST', '/v1/checkout/sessions', form, { 'idempotency-key': 'k1' })
  t.equal(replay.body.id, first.body.id, 'the same key replays the first answer')
  t.equal(replay.headers.get('idempotent-replayed'), 'true')
  const conflict = await call('POST', '/v1/checkout/sessions', { ...form, 'line_items[0][price_data][unit_amount]': '1' },
    { 'idempotency-key': 'k1' })
  t.match(conflict, { status: 400, body: { error: { type: 'idempotency_error' } } })

  const page = await fetch(first.body.url as string)
  t.match(await page.text(), /10\.00 EUR/, 'the hosted page shows the amount')
  const paid = await fetch(`${first.body.url as string}/confirm`, { method: 'POST', redirect: 'manual' })
  t.equal(paid.status, 303)
  t.equal(paid.headers.get('location'), `https://example.test/ok?session_id=${first.body.id as string}`)
  await s.idle()
  const completed = received.find((r) => JSON.parse(r.body).type === 'checkout.session.completed')
  if (completed === undefined) throw new Error('no webhook')
  const [ts, v1] = completed.signature.split(',').map((p) => p.split('=')[1])
  t.equal(v1, createHmac('sha256', 'whsec_suite').update(`${ts ?? ''}.${completed.body}`).digest('hex'),
    'Stripe-Signature: v1 is the HMAC-SHA256 of "t.payload" with the endpoint secret')
  t.equal(stripeSignature(completed.body, 'whsec_suite', Number(ts)), completed.signature)
  const event = JSON.parse(completed.body)
  const pi = await call('GET', `/v1/payment_intents/${event.data.object.payment_intent as string}?expand[0]=latest_charge.balance_transaction`)
  t.match(pi.body, { status: 'succeeded', amount_received: 1000, metadata: { userId: 'u1' },
    latest_charge: { refunded: false, balance_transaction: { fee: 59, net: 941 } } })

  const refund = await call('POST', '/v1/refunds', { payment_intent: pi.body.id })
  t.match(refund.body, { object: 'refund', amount: 1000, status: 'succeeded' })
  t.match(await call('POST', '/v1/refunds', { payment_intent: pi.body.id }), {
    status: 400, body: { error: { code: 'charge_already_refunded' } }
  })
  const listed = await call('GET', '/v1/events?type=charge.refunded&limit=5')
  t.equal(listed.body.data.length, 1)
})
