import type pg from 'pg'
import { consumerPool } from '@holo/events'
import type { Redis } from 'ioredis'
import {
  JwksKeyStore, closeRedis, createRedis, disconnectPrisma, pgAdapter, type KeyResolver, type ObservablePrismaPg
} from '@holo/shared'
import { PrismaClient } from './generated/prisma/client.js'
import type { Config } from './config.js'
import { createMailer, type Mailer } from './modules/emails/emails.mailer.js'

export interface Deps {
  prisma: PrismaClient
  /** Prisma's adapter: its pg pool is observed, and takes the unread counts after each change directly. */
  adapter: ObservablePrismaPg
  redis: Redis
  /** The consumer's and the jobs' pool: each effect runs in one of its transactions, with its applied_events record. */
  pool: pg.Pool
  mailer: Mailer
  keys: KeyResolver & { stop?: () => void }
}

export async function createDeps (config: Config): Promise<Deps> {
  const adapter = pgAdapter(config)
  return {
    prisma: new PrismaClient({ adapter }),
    adapter,
    redis: await createRedis(config.REDIS_URL, 'holo-notification'),
    pool: consumerPool({
      url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, max: config.NOTIFICATIONS_POOL_SIZE
    }),
    mailer: createMailer(config.SMTP_URL, config.MAIL_FROM),
    keys: new JwksKeyStore({ url: config.AUTH_JWKS_URL }).start()
  }
}

export async function closeDeps (deps: Deps): Promise<void> {
  deps.keys.stop?.()
  deps.mailer.close()
  await Promise.allSettled([disconnectPrisma(deps.prisma, deps.adapter), deps.pool.end(), closeRedis(deps.redis)])
}
