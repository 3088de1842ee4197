// Runs the local Stripe stand-in on its own (`pnpm --filter @holo/stripe-standin start`), configured from the
// environment: STRIPE_STANDIN_PORT (12111), STRIPE_WEBHOOK_URL, STRIPE_WEBHOOK_SECRET, STRIPE_SECRET_KEY,
// STRIPE_HOLO_PLUS_PRICE with HOLO_PLUS_AMOUNT / HOLO_PLUS_CURRENCY, STRIPE_STANDIN_PERIOD_SECONDS.
import { startStripeStandin } from './index.js'

const env = process.env
const standin = await startStripeStandin({
  port: Number(env.STRIPE_STANDIN_PORT ?? 12111),
  webhookUrl: env.STRIPE_WEBHOOK_URL,
  webhookSecret: env.STRIPE_WEBHOOK_SECRET ?? 'whsec_holo_local_standin',
  secretKey: env.STRIPE_SECRET_KEY,
  periodSeconds: env.STRIPE_STANDIN_PERIOD_SECONDS === undefined ? undefined : Number(env.STRIPE_STANDIN_PERIOD_SECONDS),
  prices: [{
    id: env.STRIPE_HOLO_PLUS_PRICE ?? 'price_holo_plus_monthly',
    unitAmount: Number(env.HOLO_PLUS_AMOUNT ?? 499),
    currency: env.HOLO_PLUS_CURRENCY ?? 'eur',
    productName: 'Holo+',
    recurring: true
  }]
})
process.stdout.write(`Stripe stand-in (local, test mode) on ${standin.url}; webhooks to ${env.STRIPE_WEBHOOK_URL ?? 'nowhere'}\n`)
const stop = (): void => { void standin.stop().then(() => process.exit(0)) }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
