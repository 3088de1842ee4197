import type pg from 'pg'
import type { Redis } from 'ioredis'
import { consumerPool } from '@holo/events'
import {
  closeRedis, createRedis, disconnectPrisma, fileReferenceCheck, JwksKeyStore, pgAdapter, type FileReferenceCheck, type ObservablePrismaPg
} from '@holo/shared'
import { PrismaClient } from './generated/prisma/client.js'
import type { Config } from './config.js'

export interface Deps {
  prisma: PrismaClient
  /** Prisma's adapter: its pg pool is observed, and takes the like statements directly. */
  adapter: ObservablePrismaPg
  redis: Redis
  keys: JwksKeyStore
  /** The file service, asked before a card references a file. */
  checkFile: FileReferenceCheck
  /** The entitlements consumer's pool: each effect runs in one of its transactions, with its applied_events record. */
  pool: pg.Pool
}

export async function createDeps (config: Config): Promise<Deps> {
  const keys = new JwksKeyStore({ url: config.AUTH_JWKS_URL }).start()
  // Start with the keys when auth answers; when it does not, start anyway and keep trying.
  await keys.refresh().catch(() => {})
  const adapter = pgAdapter(config)
  return {
    prisma: new PrismaClient({ adapter }),
    adapter,
    redis: await createRedis(config.REDIS_URL, 'holo-card'),
    keys,
    checkFile: fileReferenceCheck({ baseUrl: config.FILE_SERVICE_URL, timeoutMs: config.FILE_SERVICE_TIMEOUT_MS }),
    pool: consumerPool({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, max: config.CARD_CONSUMER_POOL_SIZE })
  }
}

export async function closeDeps (deps: Deps): Promise<void> {
  deps.keys.stop()
  await Promise.allSettled([
    disconnectPrisma(deps.prisma, deps.adapter),
    deps.pool.end(),
    closeRedis(deps.redis)
  ])
}
