import type { FastifyInstance } from 'fastify'
import { createService, relayOutbox } from '@holo/shared'
import type { Config } from './config.js'
import type { Deps } from './deps.js'
import { accountRoutes } from './modules/account/account.routes.js'
import { AccountService } from './modules/account/account.service.js'
import { adminRoutes } from './modules/admin/admin.routes.js'
import { AdminService } from './modules/admin/admin.service.js'
import { checkoutRoutes } from './modules/checkout/checkout.routes.js'
import { CheckoutService } from './modules/checkout/checkout.service.js'
import { PaymentsRepository } from './modules/payments/payments.repository.js'
import { PaymentsService } from './modules/payments/payments.service.js'
import { webhookRoutes } from './modules/webhooks/webhooks.routes.js'
import { WebhookService } from './modules/webhooks/webhooks.service.js'

export interface AppOptions {
  logStream?: NodeJS.WritableStream
}

/** Builds the billing service from its config and clients; never reads env, never listens. */
export async function buildApp (config: Config, deps: Deps, options: AppOptions = {}): Promise<FastifyInstance> {
  return await createService({
    name: 'billing',
    title: 'Holo Cards billing service',
    description: 'Premium templates and Holo+ through Stripe: checkout, webhooks, entitlements, the author ledger',
    config,
    logStream: options.logStream,
    checks: {
      postgres: { check: () => deps.prisma.$queryRaw`SELECT 1` },
      redis: { check: () => deps.redis.ping() }
    },
    observe: { pg: deps.adapter, redis: deps.redis },
    auth: {
      keys: deps.keys,
      issuer: config.AUTH_ISSUER,
      redis: deps.redis,
      registry: { key: config.ROLES_REGISTRY_KEY }
    },
    modules: async (app) => {
      // Transactions of this client that write events wake the relays after their commit.
      const prisma = relayOutbox(app, config, deps.redis, deps.prisma)
      const repo = new PaymentsRepository(prisma, deps.pool, config.DATABASE_SCHEMA)
      const payments = new PaymentsService({
        repo, stripe: deps.stripe, platformFeePercent: config.BILLING_PLATFORM_FEE_PERCENT, log: app.log
      })
      const checkout = new CheckoutService(repo, deps.stripe, deps.templates, {
        publicUrl: config.PUBLIC_URL.replace(/\/$/, ''),
        successPath: config.BILLING_SUCCESS_PATH,
        cancelPath: config.BILLING_CANCEL_PATH,
        ttlSeconds: config.BILLING_CHECKOUT_TTL_SECONDS,
        holoPlus: {
          price: config.STRIPE_HOLO_PLUS_PRICE, amount: config.HOLO_PLUS_AMOUNT, currency: config.HOLO_PLUS_CURRENCY
        }
      })
      const account = new AccountService(repo, deps.stripe,
        config.PUBLIC_URL.replace(/\/$/, '') + config.BILLING_PORTAL_RETURN_PATH)
      await app.register(checkoutRoutes, { service: checkout })
      await app.register(accountRoutes, { service: account })
      await app.register(adminRoutes, { admin: new AdminService(repo), payments })
      await app.register(webhookRoutes, { service: new WebhookService(deps.stripe, payments, repo) })
    }
  })
}
