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
  keys: KeyResolver & { stop?: () => void }
  /** The event consumer's pool: each effect runs in one of its transactions (postgresApplied). */
  pool: pg.Pool
}

export async function createDeps (config: Config): Promise<Deps> {
  const adapter = pgAdapter(config)
  return {
    prisma: new PrismaClient({ adapter }),
    adapter,
    redis: await createRedis(config.REDIS_URL, 'holo-audit'),
    keys: new JwksKeyStore({ url: config.AUTH_JWKS_URL }).start(),
    pool: consumerPool({
      url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, max: config.AUDIT_CONSUMER_POOL_SIZE
    })
  }
}

export async function closeDeps (deps: Deps): Promise<void> {
  deps.keys.stop?.()
  await Promise.allSettled([deps.prisma.$disconnect(), deps.pool.end(), closeRedis(deps.redis)])
}
