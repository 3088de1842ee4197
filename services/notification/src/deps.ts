import pg from 'pg'
import type { Redis } from 'ioredis'
import {
  JwksKeyStore, closeRedis, createRedis, pgAdapter, type KeyResolver, type ObservablePrismaPg
} from '@holo/shared'
import { PrismaClient } from './generated/prisma/client.js'
import type { Config } from './config.js'
import { createMailer, type Mailer } from './modules/emails/emails.mailer.js'

export interface Deps {
  prisma: PrismaClient
  /** Prisma's adapter, kept so its pg pool can be observed. */
  adapter: ObservablePrismaPg
  redis: Redis
  /** The consumer's and the jobs' pool: each effect runs in one of its transactions, with its applied_events record. */
  pool: pg.Pool
  mailer: Mailer
  keys: KeyResolver & { stop?: () => void }
}

/** A pg pool whose sessions resolve unqualified names in the service's schema (as the migrations do). */
export function consumerPool (config: Config): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: config.NOTIFICATIONS_POOL_SIZE,
    connectionTimeoutMillis: 2000,
    idleTimeoutMillis: 30_000,
    options: `-c search_path=${config.DATABASE_SCHEMA}`
  })
  // An idle client losing its connection must not crash the process; the next checkout reconnects.
  pool.on('error', () => {})
  return pool
}

export async function createDeps (config: Config): Promise<Deps> {
  const adapter = pgAdapter(config)
  return {
    prisma: new PrismaClient({ adapter }),
    adapter,
    redis: await createRedis(config.REDIS_URL, 'holo-notification'),
    pool: consumerPool(config),
    mailer: createMailer(config.SMTP_URL, config.MAIL_FROM),
    keys: new JwksKeyStore({ url: config.AUTH_JWKS_URL }).start()
  }
}

export async function closeDeps (deps: Deps): Promise<void> {
  deps.keys.stop?.()
  deps.mailer.close()
  await Promise.allSettled([deps.prisma.$disconnect(), deps.pool.end(), closeRedis(deps.redis)])
}
