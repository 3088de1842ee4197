// Payments end to end, through the real nginx gateway with the typed client: the local Stripe stand-in (its
// webhooks reach billing through the gateway too), billing, the card service enforcing entitlements from its
// own copy, analytics adding revenue and audit recording the refund; one real Chromium run through the
// stand-in's hosted checkout page.
import { existsSync } from 'node:fs'
import t from 'tap'
import { chromium } from 'playwright-core'
import { createHoloClient } from '@holo/api-client'
import {
  eventually as poll, freePort, testDatabase, testGateway, testIssuer, testRedisUrl, testStreamPrefix
} from '@holo/infra/testing'
import { startStripeStandin } from '../../packages/stripe-standin/src/index.js'
import { TemplateExample } from '../../services/card/src/modules/templates/templates.schemas.js'
import { startService, type AnyServiceName, type RunningService } from './helpers.js'

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p))
const SECRET_KEY = 'sk_test_e2e_billing'
const WEBHOOK_SECRET = 'whsec_e2e_billing'
const PLUS_PRICE = 'price_e2e_holo_plus'
const PERIOD_SECONDS = 6

async function eventually (fn: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  if (!await poll(fn, { tries: Math.ceil(timeoutMs / 50), intervalMs: 50 })) throw new Error(`timed out waiting for ${what}`)
}

const db = await testDatabase(t)
const issuer = await testIssuer(t)
const prefix = testStreamPrefix(t)
const gatewayPort = await freePort()
const gatewayUrl = `http://127.0.0.1:${gatewayPort}`
const standin = await startStripeStandin({
  port: 0,
  secretKey: SECRET_KEY,
  webhookSecret: WEBHOOK_SECRET,
  webhookUrl: `${gatewayUrl}/api/v1/billing/webhooks/stripe`,
  periodSeconds: PERIOD_SECONDS,
  prices: [{ id: PLUS_PRICE, unitAmount: 499, currency: 'eur', productName: 'Holo+', recurring: true }]
})
t.teardown(() => standin.stop())

const common = {
  REDIS_URL: testRedisUrl(),
  AUTH_JWKS_URL: issuer.jwksUrl,
  AUTH_ISSUER: issuer.issuer,
  EVENTS_STREAM_PREFIX: prefix,
  EVENTS_RELAY_POLL_MS: '200',
  EVENTS_CONSUMER_ENABLED: 'true',
  LOG_LEVEL: 'silent'
}
const card = await startService(t, 'card', {
  ...common, DATABASE_URL: db.urlFor('card'), CACHE_PREFIX: `e2e:billing:${prefix.split('.')[1] ?? ''}:`, FILE_SERVICE_URL: 'http://127.0.0.1:9'
})
const billing = await startService(t, 'billing', {
  ...common,
  DATABASE_URL: db.urlFor('billing'),
  STRIPE_API_URL: standin.url,
  STRIPE_SECRET_KEY: SECRET_KEY,
  STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  STRIPE_HOLO_PLUS_PRICE: PLUS_PRICE,
  CARD_SERVICE_URL: card.url,
  PUBLIC_URL: gatewayUrl
})
const analytics = await startService(t, 'analytics', { ...common, DATABASE_URL: db.urlFor('analytics') })
const audit = await startService(t, 'audit', { ...common, DATABASE_URL: db.urlFor('audit') })
const services: RunningService[] = [card, billing, analytics, audit]
await testGateway(t, {
  auth: '127.0.0.1:9',
  file: '127.0.0.1:9',
  ...Object.fromEntries(services.map((s) => [s.name, `127.0.0.1:${s.port}`])) as Partial<Record<AnyServiceName, string>>
} as Parameters<typeof testGateway>[1], { port: gatewayPort })

const as = (roles: Array<'user' | 'creator' | 'admin'> = ['user']) => {
  const id = crypto.randomUUID()
  const client = createHoloClient(gatewayUrl)
  client.setAccessToken(issuer.token({ sub: id, roles }))
  return { id, client }
}
const author = as(['creator'])
const buyer = as()
const admin = as(['admin'])

const newTemplate = async (price: { amount: number, currency: string } | null) => {
  const res = await author.client.card.POST('/api/v1/templates', {
    body: { name: 'Nebula', layout: TemplateExample.layout as never, status: 'published', premium: true, price }
  })
  if (res.data === undefined) throw new Error(`template: ${res.response.status}`)
  return res.data
}
const cardOn = async (who: ReturnType<typeof as>, templateId: string): Promise<number> =>
  (await who.client.card.POST('/api/v1/cards', { body: { title: 'On a premium template', templateId } })).response.status

t.test('a template bought in a real browser through the hosted checkout page, used, then refunded', async (t) => {
  if (CHROMIUM === undefined) throw new Error('chromium not found: apt-get install -y chromium')
  const tpl = await newTemplate({ amount: 1000, currency: 'eur' })
  const refused = await buyer.client.card.POST('/api/v1/cards', { body: { title: 'x', templateId: tpl.id } })
  t.equal(refused.response.status, 403, 'without an entitlement: 403')
  t.match(refused.error, { code: 'ENTITLEMENT_REQUIRED', buy: [{ templateId: tpl.id }, { plan: 'holo-plus' }] })

  const started = await buyer.client.billing.POST('/api/v1/billing/checkout', { body: { templateId: tpl.id } })
  t.equal(started.response.status, 200)
  const session = started.data
  if (session === undefined) throw new Error('no checkout')
  t.match(session, { amount: 1000, currency: 'eur' }, 'the price is the template\'s, from the server')

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic']
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  await page.goto(session.url, { waitUntil: 'load' })
  t.match(await page.locator('#amount').innerText(), /10\.00 EUR/, 'the hosted page shows what it charges')
  t.match(await page.locator('h1').innerText(), /Nebula/)
  await Promise.all([page.waitForURL(/\/billing\/success\?session_id=cs_test_/, { timeout: 20_000 }), page.click('#pay')])
  t.match(page.url(), new RegExp(`^${gatewayUrl}/billing/success\\?session_id=${session.sessionId}$`),
    'Stripe sends the buyer back to the gateway with the session id')

  await eventually(async () => (await buyer.client.billing.GET('/api/v1/billing/entitlements')).data?.items
    .some((e) => e.templateId === tpl.id && e.active) === true, 'the entitlement (webhook through the gateway)')
  await eventually(async () => await cardOn(buyer, tpl.id) === 201, 'the card service to accept the card')
  t.pass('a card on the bought template is accepted')
  t.equal(await cardOn(as(), tpl.id), 403, 'another user is still refused')
  t.equal((await buyer.client.billing.POST('/api/v1/billing/checkout', { body: { templateId: tpl.id } })).response.status,
    409, 'buying it again is a 409')

  const purchases = await buyer.client.billing.GET('/api/v1/billing/purchases')
  const payment = purchases.data?.items[0]
  if (payment === undefined) throw new Error('no purchase')
  const stranger = await as().client.billing.GET('/api/v1/billing/purchases/{id}', { params: { path: { id: payment.id } } })
  t.equal(stranger.response.status, 404, 'nobody reads another user\'s purchase')

  // Stripe delivers an event again, through the gateway: nothing changes.
  const completed = standin.events().find((e) => e.type === 'checkout.session.completed')
  t.equal(await standin.deliver(completed?.id ?? ''), 200)
  t.equal((await buyer.client.billing.GET('/api/v1/billing/purchases')).data?.items.length, 1, 'a repeated event adds nothing')

  const refund = await admin.client.billing.POST('/api/v1/billing/payments/{id}/refund', { params: { path: { id: payment.id } } })
  t.equal(refund.response.status, 200)
  t.equal(refund.data?.status, 'refunded')
  const again = await admin.client.billing.POST('/api/v1/billing/payments/{id}/refund', { params: { path: { id: payment.id } } })
  t.equal(again.response.status, 409, 'a refund of a refunded payment is a 409')
  await eventually(async () => await cardOn(buyer, tpl.id) === 403, 'the revocation to reach the card service')
  t.pass('refused again after the refund')

  const earnings = await author.client.billing.GET('/api/v1/billing/earnings')
  t.match(earnings.data?.totals, [{ currency: 'eur', gross: 0, net: 0, sales: 1, refunds: 1 }], 'the author\'s ledger reversed')
  const revenue = await admin.client.billing.GET('/api/v1/billing/revenue', { params: { query: { granularity: 'day' } } })
  t.match(revenue.data?.totals, [{ currency: 'eur', gross: 1000, refunded: 1000, stripeFees: 0, platform: 0, authors: 0 }],
    'the ledger balances: every account back to zero')

  await eventually(async () => {
    const o = await admin.client.analytics.GET('/api/v1/analytics/overview', { params: { query: { granularity: 'day' } } })
    const eur = o.data?.revenue.find((r) => r.currency === 'eur')
    return eur !== undefined && eur.gross.some((p) => p.value === 1000) && eur.refunded.some((p) => p.value === 1000)
  }, 'analytics to count the revenue and the refund')
  t.pass('analytics counts the payment and the refund')
  await eventually(async () => {
    const log = await admin.client.audit.GET('/api/v1/audit/events', { params: { query: { type: 'holo.payment.refunded' } } })
    return log.data?.items.some((e: { actorId?: string | null }) => e.actorId === admin.id) === true
  }, 'the audit log to record the refund')
  t.pass('the audit log records who refunded')
})

t.test('Holo+: every premium template while active; cancelled at the period end, refused within 5 s after it', async (t) => {
  const subscriber = as()
  const [a, b] = [await newTemplate({ amount: 300, currency: 'usd' }), await newTemplate(null)]
  const started = await subscriber.client.billing.POST('/api/v1/billing/checkout', { body: { plan: 'holo-plus' } })
  if (started.data === undefined) throw new Error(`checkout: ${started.response.status}`)
  // The hosted page's Pay form, as a browser without JavaScript posts it.
  const paid = await fetch(`${started.data.url}/confirm`, { method: 'POST', redirect: 'manual' })
  t.equal(paid.status, 303)
  await eventually(async () => await cardOn(subscriber, a.id) === 201, 'Holo+ to reach the card service')
  t.equal(await cardOn(subscriber, b.id), 201, 'every premium template is usable')

  const portal = await subscriber.client.billing.POST('/api/v1/billing/portal')
  const url = portal.data?.url
  if (url === undefined) throw new Error('no portal')
  const page = await (await fetch(url)).text()
  const action = /action="([^"]+\/cancel)"/.exec(page)?.[1]
  if (action === undefined) throw new Error('no cancel form in the portal')
  t.equal((await fetch(new URL(action, url), { method: 'POST', redirect: 'manual' })).status, 303)
  await eventually(async () => (await subscriber.client.billing.GET('/api/v1/billing/entitlements')).data?.subscriptions
    .some((s) => s.cancelAtPeriodEnd) === true, 'the cancellation to be recorded')
  const ents = await subscriber.client.billing.GET('/api/v1/billing/entitlements')
  const end = Date.parse(ents.data?.subscriptions[0]?.currentPeriodEnd ?? '')
  if (Date.now() < end - 500) t.equal(await cardOn(subscriber, a.id), 201, 'usable until the period ends')
  await eventually(async () => await cardOn(subscriber, a.id) === 403, 'the refusal after the period end', PERIOD_SECONDS * 1000 + 10_000)
  const late = Date.now() - end
  t.ok(late < 5000, `refused ${late} ms after the period ended (at most 5 s)`)
})
