// The real billing app on a fresh database, listening (Stripe's webhooks arrive over HTTP), the local Stripe
// stand-in speaking Stripe's protocol, and the real card service in-process on the same database and stream
// prefix (billing reads template prices from it; its entitlements consumer reads billing's events).
// services/billing/tsconfig.json has rootDir '..' for the card service's modules.
import { randomBytes, randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Role } from '@holo/shared'
import {
  eventually as poll, freePort, testDatabase, testIssuer, testRedisUrl, testStreamPrefix, type Teardown,
  type TestDatabase, type TestIssuer, testRolesKey
} from '@holo/infra/testing'
import { startStripeStandin, stripeSignature, type StripeStandin, type StripeStandinOptions } from '@holo/stripe-standin'
import { buildApp as buildCardApp } from '../../card/src/app.js'
import { loadConfig as loadCardConfig } from '../../card/src/config.js'
import { closeDeps as closeCardDeps, createDeps as createCardDeps } from '../../card/src/deps.js'
import { TemplateExample } from '../../card/src/modules/templates/templates.schemas.js'
import { buildApp, type AppOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { closeDeps, createDeps, type Deps } from '../src/deps.js'

export interface TestUser { id: string, token: string, auth: { authorization: string } }

export const WEBHOOK_SECRET = 'whsec_test_billing_suite'
export const SECRET_KEY = 'sk_test_billing_suite'
export const HOLO_PLUS_PRICE = 'price_test_holo_plus'

export interface BillingTest {
  app: FastifyInstance
  url: string
  deps: Deps
  config: Config
  db: TestDatabase
  issuer: TestIssuer
  standin: StripeStandin
  card: FastifyInstance
  cardUrl: string
  prefix: string
  user: (roles?: Role[]) => TestUser
  /** A published template made by `author` through the card service. */
  template: (author: TestUser, body?: Record<string, unknown>) => Promise<{ id: string, [k: string]: unknown }>
  /** POST /api/v1/cards on the card service: its status. */
  createCard: (who: TestUser, templateId: string) => Promise<number>
  /** Sends a body to the webhook endpoint, signed (or not) as Stripe would. */
  webhook: (payload: string, o?: { secret?: string, timestamp?: number, signature?: string | null }) => Promise<{
    statusCode: number
    json: () => any
  }>
  /** Starts a checkout as `who` and returns the body. */
  checkout: (who: TestUser, body: Record<string, unknown>) => Promise<{ statusCode: number, body: any }>
  /** The rows of a billing table, via the admin connection. */
  sql: <R = Record<string, unknown>>(query: string, ...params: unknown[]) => Promise<R[]>
}

/** Polls until `fn` holds (about 15 s by default); throws naming what it waited for. */
export async function eventually (fn: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000): Promise<void> {
  if (!await poll(fn, { tries: Math.ceil(timeoutMs / 50), intervalMs: 50 })) throw new Error(`timed out waiting for ${what}`)
}

export async function buildBillingTest (
  t: Teardown,
  env: Record<string, string> = {},
  o: { standin?: Partial<StripeStandinOptions>, app?: AppOptions } = {}
): Promise<BillingTest> {
  const [db, issuer, port, cardPort] = await Promise.all([testDatabase(t), testIssuer(t), freePort(), freePort()])
  const prefix = testStreamPrefix(t)
  const standin = await startStripeStandin({
    port: 0,
    secretKey: SECRET_KEY,
    webhookSecret: WEBHOOK_SECRET,
    webhookUrl: `http://127.0.0.1:${port}/api/v1/billing/webhooks/stripe`,
    prices: [{ id: HOLO_PLUS_PRICE, unitAmount: 499, currency: 'eur', productName: 'Holo+', recurring: true }],
    ...o.standin
  })
  t.teardown(() => standin.stop())

  const cardConfig = loadCardConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: db.urlFor('card'),
    REDIS_URL: testRedisUrl(),
    AUTH_JWKS_URL: issuer.jwksUrl,
    AUTH_ISSUER: issuer.issuer,
    ROLES_REGISTRY_KEY: testRolesKey(),
    CACHE_PREFIX: `test:card:${randomBytes(6).toString('hex')}:`,
    FILE_SERVICE_URL: `http://127.0.0.1:${await freePort()}`,
    EVENTS_STREAM_PREFIX: prefix,
    EVENTS_RELAY_POLL_MS: '200'
  })
  const cardDeps = await createCardDeps(cardConfig)
  const card = await buildCardApp(cardConfig, cardDeps)
  await card.listen({ host: '127.0.0.1', port: cardPort })
  t.teardown(async () => { await card.close(); await closeCardDeps(cardDeps) })

  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: db.urlFor('billing'),
    REDIS_URL: testRedisUrl(),
    AUTH_JWKS_URL: issuer.jwksUrl,
    AUTH_ISSUER: issuer.issuer,
    ROLES_REGISTRY_KEY: testRolesKey(),
    EVENTS_STREAM_PREFIX: prefix,
    EVENTS_RELAY_POLL_MS: '200',
    STRIPE_API_URL: standin.url,
    STRIPE_SECRET_KEY: SECRET_KEY,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_HOLO_PLUS_PRICE: HOLO_PLUS_PRICE,
    STRIPE_MAX_RETRIES: '0',
    CARD_SERVICE_URL: `http://127.0.0.1:${cardPort}`,
    ...env
  })
  const deps = await createDeps(config)
  const app = await buildApp(config, deps, o.app)
  await app.listen({ host: '127.0.0.1', port })
  t.teardown(async () => { await app.close(); await closeDeps(deps) })

  const user = (roles: Role[] = ['user']): TestUser => {
    const id = randomUUID()
    const token = issuer.token({ sub: id, roles })
    return { id, token, auth: { authorization: `Bearer ${token}` } }
  }
  const template = async (author: TestUser, body: Record<string, unknown> = {}) => {
    const res = await card.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: author.auth,
      payload: {
        name: 'Aurora', layout: TemplateExample.layout, status: 'published', premium: true,
        price: { amount: 499, currency: 'eur' }, ...body
      }
    })
    if (res.statusCode !== 201) throw new Error(`template create failed: ${res.statusCode} ${res.body}`)
    return res.json()
  }
  const createCard = async (who: TestUser, templateId: string): Promise<number> => (await card.inject({
    method: 'POST', url: '/api/v1/cards', headers: who.auth, payload: { title: 'A card', templateId }
  })).statusCode
  const webhook: BillingTest['webhook'] = async (payload, w = {}) => {
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' }
    if (w.signature !== null) {
      headers['stripe-signature'] = w.signature ?? stripeSignature(payload, w.secret ?? WEBHOOK_SECRET, w.timestamp)
    }
    const res = await app.inject({ method: 'POST', url: '/api/v1/billing/webhooks/stripe', headers, payload })
    return { statusCode: res.statusCode, json: () => res.json() }
  }
  const checkout = async (who: TestUser, body: Record<string, unknown>) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/billing/checkout', headers: who.auth, payload: body })
    return { statusCode: res.statusCode, body: res.json() }
  }
  const pg = await import('pg')
  const sql = async <R>(query: string, ...params: unknown[]): Promise<R[]> => {
    const client = new pg.default.Client({ connectionString: db.adminUrl, options: '-c search_path=billing' })
    await client.connect()
    try {
      return (await client.query(query, params)).rows as R[]
    } finally {
      await client.end()
    }
  }
  return {
    app, url: `http://127.0.0.1:${port}`, deps, config, db, issuer, standin, card, cardUrl: `http://127.0.0.1:${cardPort}`,
    prefix, user, template, createCard, webhook, checkout, sql
  }
}

/** Completes a checkout session at the stand-in (the hosted page's Pay button) and waits for its webhooks. */
export async function pay (b: BillingTest, sessionId: string): Promise<void> {
  await b.standin.pay(sessionId)
  await b.standin.idle()
}
