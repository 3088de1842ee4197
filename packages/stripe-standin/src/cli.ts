// Runs the local Stripe stand-in on its own (`pnpm --filter @holo/stripe-standin start`), configured from the
// environment: STRIPE_STANDIN_PORT (12111), STRIPE_WEBHOOK_URL, STRIPE_WEBHOOK_SECRET, STRIPE_SECRET_KEY,
// STRIPE_HOLO_PLUS_PRICE with HOLO_PLUS_AMOUNT / HOLO_PLUS_CURRENCY, STRIPE_STANDIN_PERIOD_SECONDS.
import { standinOptionsFromEnv, startStripeStandin } from './index.js'

const env = process.env
const standin = await startStripeStandin(
  standinOptionsFromEnv(env, { webhookUrl: env.STRIPE_WEBHOOK_URL, secretKey: env.STRIPE_SECRET_KEY }))
process.stdout.write(`Stripe stand-in (local, test mode) on ${standin.url}; webhooks to ${env.STRIPE_WEBHOOK_URL ?? 'nowhere'}\n`)
const stop = (): void => { void standin.stop().then(() => process.exit(0)) }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
