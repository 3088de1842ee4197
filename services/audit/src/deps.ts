import pg from 'pg'
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
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: config.AUDIT_CONSUMER_POOL_SIZE,
    connectionTimeoutMillis: 2000,
    idleTimeoutMillis: 30_000,
    // The role's default search_path says the same; explicit, as for Prisma's adapter.
    options: `-c search_path=${config.DATABASE_SCHEMA}`
  })
  // An idle connection that breaks (a PostgreSQL restart) must not crash the process; the next query reconnects.
  pool.on('error', () => {})
  return {
    prisma: new PrismaClient({ adapter }),
    adapter,
    redis: await createRedis(config.REDIS_URL, 'holo-audit'),
    keys: new JwksKeyStore({ url: config.AUTH_JWKS_URL }).start(),
    pool
  }
}

export async function closeDeps (deps: Deps): Promise<void> {
  deps.keys.stop?.()
  await Promise.allSettled([deps.prisma.$disconnect(), deps.pool.end(), closeRedis(deps.redis)])
}
