import type pg from 'pg'
import { consumerPool } from '@holo/events'
import type { Redis } from 'ioredis'
import {
  JwksKeyStore, closeRedis, createRedis, pgAdapter, type KeyResolver, type ObservablePrismaPg
} from '@holo/shared'
import { PrismaClient } from './generated/prisma/client.js'
import type { Config } from './config.js'

export interface Deps {
  prisma: PrismaClient
  /** Prisma's adapter, kept so its pg pool can be observed. */
  adapter: ObservablePrismaPg
  redis: Redis
  /** The event consumer's pool: each effect runs in one of its transactions, with its applied_events record. */
  pool: pg.Pool
  keys: KeyResolver & { stop?: () => void }
}

export async function createDeps (config: Config): Promise<Deps> {
  const adapter = pgAdapter(config)
  return {
    prisma: new PrismaClient({ adapter }),
    adapter,
    redis: await createRedis(config.REDIS_URL, 'holo-analytics'),
    pool: consumerPool({
      url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, max: config.ANALYTICS_CONSUMER_POOL_SIZE
    }),
    keys: new JwksKeyStore({ url: config.AUTH_JWKS_URL }).start()
  }
}

export async function closeDeps (deps: Deps): Promise<void> {
  deps.keys.stop?.()
  await Promise.allSettled([deps.prisma.$disconnect(), deps.pool.end(), closeRedis(deps.redis)])
}
