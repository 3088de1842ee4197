import type pg from 'pg'
import type { Redis } from 'ioredis'
import { consumerPool } from '@holo/events'
import {
  closeRedis, createRedis, JwksKeyStore, pgAdapter, type KeyResolver, type ObservablePrismaPg
} from '@holo/shared'
import { PrismaClient } from './generated/prisma/client.js'
import type { Config } from './config.js'
import { cardTemplateCatalog, type TemplateCatalog } from './modules/checkout/templates.client.js'
import { stripeProvider, type PaymentProvider } from './modules/stripe/stripe.gateway.js'

export interface Deps {
  prisma: PrismaClient
  /** Prisma's adapter, kept so its pg pool can be observed. */
  adapter: ObservablePrismaPg
  redis: Redis
  /** The write transactions' pool (payments, ledger, entitlements and their outbox rows, in one transaction each). */
  pool: pg.Pool
  keys: KeyResolver & { stop?: () => void }
  /** Stripe, through the official package (or the local stand-in, by STRIPE_API_URL). */
  stripe: PaymentProvider
  /** The card service's templates (price, author) for checkouts. */
  templates: TemplateCatalog
}

export async function createDeps (config: Config): Promise<Deps> {
  const adapter = pgAdapter(config)
  return {
    prisma: new PrismaClient({ adapter }),
    adapter,
    redis: await createRedis(config.REDIS_URL, 'holo-billing'),
    pool: consumerPool({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, max: config.DATABASE_POOL_SIZE }),
    keys: new JwksKeyStore({ url: config.AUTH_JWKS_URL }).start(),
    stripe: stripeProvider({
      apiUrl: config.STRIPE_API_URL,
      secretKey: config.STRIPE_SECRET_KEY,
      webhookSecret: config.STRIPE_WEBHOOK_SECRET,
      toleranceSeconds: config.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
      timeoutMs: config.STRIPE_TIMEOUT_MS,
      maxRetries: config.STRIPE_MAX_RETRIES
    }),
    templates: cardTemplateCatalog({ baseUrl: config.CARD_SERVICE_URL, timeoutMs: config.CARD_SERVICE_TIMEOUT_MS })
  }
}

export async function closeDeps (deps: Deps): Promise<void> {
  deps.keys.stop?.()
  await Promise.allSettled([deps.prisma.$disconnect(), deps.pool.end(), closeRedis(deps.redis)])
}
