import { Type, type Static } from 'typebox'
import { eventsProducerEnv } from '@holo/events'
import { assertProductionSafe, authVerifierEnv, baseEnv, parseEnv } from '@holo/shared'

/** Development values: the local Stripe stand-in's (packages/stripe-standin). Production refuses every one. */
export const DEV_STRIPE = {
  apiUrl: 'http://127.0.0.1:12111',
  secretKey: 'sk_test_holo_local_standin',
  webhookSecret: 'whsec_holo_local_standin',
  holoPlusPrice: 'price_holo_plus_monthly'
} as const

const Url = (d: string, description: string) =>
  Type.String({ default: d, pattern: '^https?://[^\\s]+$', description })

export const EnvSchema = Type.Object({
  ...baseEnv({ port: 3007, schema: 'billing', role: 'holo_billing' }),
  ...authVerifierEnv(),
  ...eventsProducerEnv(),
  /** Stripe's API as the stripe package reaches it: https://api.stripe.com, or the local stand-in. */
  STRIPE_API_URL: Url(DEV_STRIPE.apiUrl, 'Stripe API base URL'),
  /** The secret (or restricted) key: sk_live_… in production. Never logged. */
  STRIPE_SECRET_KEY: Type.String({ default: DEV_STRIPE.secretKey, pattern: '^(sk|rk)_(test|live)_[A-Za-z0-9_]+$' }),
  /** The signing secret of the webhook endpoint (whsec_…). Never logged. */
  STRIPE_WEBHOOK_SECRET: Type.String({ default: DEV_STRIPE.webhookSecret, pattern: '^whsec_[A-Za-z0-9_]+$' }),
  /** How old a webhook's signed timestamp may be. */
  STRIPE_WEBHOOK_TOLERANCE_SECONDS: Type.Integer({ default: 300, minimum: 1, maximum: 3600 }),
  /** Milliseconds before a call to Stripe gives up (then a 503 naming stripe). */
  STRIPE_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, maximum: 80_000 }),
  /** Retries of a failed call to Stripe (each with the same idempotency key). */
  STRIPE_MAX_RETRIES: Type.Integer({ default: 2, minimum: 0, maximum: 10 }),
  /** The recurring monthly Price of Holo+ in Stripe (price_…). */
  STRIPE_HOLO_PLUS_PRICE: Type.String({ default: DEV_STRIPE.holoPlusPrice, pattern: '^price_[A-Za-z0-9_]+$' }),
  /** What Holo+ costs (shown and recorded; the Stripe Price must say the same). */
  HOLO_PLUS_AMOUNT: Type.Integer({ default: 499, minimum: 1, maximum: 100_000_000 }),
  HOLO_PLUS_CURRENCY: Type.String({ default: 'eur', pattern: '^[a-z]{3}$' }),
  /** The platform's share of each template sale, in percent (the author gets the rest less Stripe's fee). */
  BILLING_PLATFORM_FEE_PERCENT: Type.Number({ default: 20, minimum: 0, maximum: 100 }),
  /** The card service, asked for a template's price and author when a checkout starts. */
  CARD_SERVICE_URL: Url('http://127.0.0.1:3002', 'The card service'),
  CARD_SERVICE_TIMEOUT_MS: Type.Integer({ default: 2000, minimum: 50, maximum: 30_000 }),
  /** The public origin of the gateway: where Stripe sends the buyer back. */
  PUBLIC_URL: Url('http://127.0.0.1:8080', 'Public origin'),
  /** Where Checkout returns after paying ({CHECKOUT_SESSION_ID} is filled in by Stripe) and after cancelling. */
  BILLING_SUCCESS_PATH: Type.String({ default: '/billing/success?session_id={CHECKOUT_SESSION_ID}', pattern: '^/' }),
  BILLING_CANCEL_PATH: Type.String({ default: '/billing/cancelled', pattern: '^/' }),
  BILLING_PORTAL_RETURN_PATH: Type.String({ default: '/account/billing', pattern: '^/' }),
  /** How long a started checkout stays open at Stripe (Stripe allows 30 minutes to 24 hours). */
  BILLING_CHECKOUT_TTL_SECONDS: Type.Integer({ default: 3600, minimum: 1800, maximum: 86_400 })
})

export type Config = Static<typeof EnvSchema>

export function loadConfig (env: Record<string, string | undefined>): Config {
  const config = parseEnv(EnvSchema, env)
  const api = new URL(config.STRIPE_API_URL)
  assertProductionSafe(config.NODE_ENV, [
    [api.protocol !== 'https:' || api.hostname !== 'api.stripe.com',
      'STRIPE_API_URL must be https://api.stripe.com (the local Stripe stand-in is for development and tests)'],
    [config.STRIPE_SECRET_KEY === DEV_STRIPE.secretKey, 'STRIPE_SECRET_KEY is the development key; set the real one'],
    [config.STRIPE_WEBHOOK_SECRET === DEV_STRIPE.webhookSecret,
      'STRIPE_WEBHOOK_SECRET is the development secret; set the webhook endpoint\'s signing secret'],
    [config.STRIPE_HOLO_PLUS_PRICE === DEV_STRIPE.holoPlusPrice, 'STRIPE_HOLO_PLUS_PRICE is the development price id'],
    [!config.PUBLIC_URL.startsWith('https://'), 'PUBLIC_URL must be https (Stripe sends buyers back to it)']
  ])
  return config
}
