// Configuration: production refuses the stand-in and the development secrets; secrets never appear in errors
// or logs.
import { Writable } from 'node:stream'
import t from 'tap'
import { loadConfig } from '../src/config.js'
import { buildBillingTest, WEBHOOK_SECRET } from './helper.js'

const production = {
  NODE_ENV: 'production',
  STRIPE_API_URL: 'https://api.stripe.com',
  STRIPE_SECRET_KEY: 'sk_live_51AbCdEfGh',
  STRIPE_WEBHOOK_SECRET: 'whsec_RealEndpointSecret',
  STRIPE_HOLO_PLUS_PRICE: 'price_1RealHoloPlus',
  PUBLIC_URL: 'https://holo.cards'
}

t.test('production starts with real Stripe settings only', async (t) => {
  t.equal(loadConfig(production).STRIPE_API_URL, 'https://api.stripe.com')
  const refused: Array<[Record<string, string | undefined>, RegExp]> = [
    [{ STRIPE_API_URL: 'http://127.0.0.1:12111' }, /STRIPE_API_URL must be https:\/\/api\.stripe\.com/],
    [{ STRIPE_API_URL: 'https://stripe.example.com' }, /STRIPE_API_URL/],
    [{ STRIPE_SECRET_KEY: undefined }, /STRIPE_SECRET_KEY is the development key/],
    [{ STRIPE_WEBHOOK_SECRET: undefined }, /STRIPE_WEBHOOK_SECRET is the development secret/],
    [{ STRIPE_HOLO_PLUS_PRICE: undefined }, /STRIPE_HOLO_PLUS_PRICE/],
    [{ PUBLIC_URL: 'http://holo.cards' }, /PUBLIC_URL must be https/]
  ]
  for (const [change, message] of refused) {
    t.throws(() => loadConfig({ ...production, ...change }), { message }, JSON.stringify(change))
  }
  t.ok(loadConfig({ NODE_ENV: 'development' }).STRIPE_API_URL.startsWith('http://127.0.0.1'),
    'development defaults to the local stand-in')
})

t.test('a malformed secret is named, never shown', async (t) => {
  const err = t.throws(() => loadConfig({ STRIPE_SECRET_KEY: 'pk_live_not_a_secret_key' })) as Error
  t.match(err.message, /STRIPE_SECRET_KEY/)
  t.notMatch(err.message, /pk_live_not_a_secret_key/)
  t.throws(() => loadConfig({ BILLING_PLATFORM_FEE_PERCENT: '120' }), { message: /BILLING_PLATFORM_FEE_PERCENT/ })
  t.throws(() => loadConfig({ HOLO_PLUS_CURRENCY: 'EUR' }), { message: /HOLO_PLUS_CURRENCY/ })
})

t.test('the webhook secret and the signature never reach the logs', async (t) => {
  const lines: string[] = []
  const logStream = new Writable({ write (chunk, _e, done) { lines.push(String(chunk)); done() } })
  const b = await buildBillingTest(t, { LOG_LEVEL: 'debug' }, { app: { logStream } })
  const tpl = await b.template(b.user(['creator']))
  const started = await b.checkout(b.user(), { templateId: tpl.id })
  await b.standin.pay(started.body.sessionId)
  await b.standin.idle()
  await b.webhook('{}', { secret: 'whsec_wrong' })
  const all = lines.join('')
  t.ok(all.includes('stripe webhook'), 'the deliveries were logged')
  t.notOk(all.includes(WEBHOOK_SECRET), 'no webhook secret')
  t.notOk(all.includes('sk_test_billing_suite'), 'no secret key')
  t.notOk(/v1=[0-9a-f]{64}/.test(all), 'no signature')
})

t.test('billing reads and writes its own schema only', async (t) => {
  const b = await buildBillingTest(t)
  const pg = (await import('pg')).default
  const client = new pg.Client({ connectionString: b.db.urlFor('billing') })
  await client.connect()
  t.teardown(() => client.end())
  const where = await client.query<{ schema: string }>('SELECT current_schema() AS schema')
  t.equal(where.rows[0]?.schema, 'billing')
  await t.rejects(client.query('SELECT 1 FROM card.templates'), { code: '42501' }, 'no rights on the card schema')
  const tables = await b.sql<{ table_schema: string }>(
    `SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_name IN ('payments', 'ledger_entries', 'stripe_events')`)
  t.same(tables.map((r) => r.table_schema), ['billing'])
})
