import type { Redis } from 'ioredis'
import {
  JwksKeyStore, closeRedis, createRedis, pgAdapter, type KeyResolver, type ObservablePrismaPg
} from '@holo/shared'
import { PrismaClient } from './generated/prisma/client.js'
import type { Config } from './config.js'
import type { ObjectStore } from './storage/object-store.js'
import { S3ObjectStore, createS3 } from './storage/s3-object-store.js'

export interface Deps {
  prisma: PrismaClient
  /** Prisma's adapter, kept so its pg pool can be observed. */
  adapter: ObservablePrismaPg
  redis: Redis
  store: ObjectStore
  keys: KeyResolver & { stop?: () => void }
}

export async function createDeps (config: Config): Promise<Deps> {
  const adapter = pgAdapter(config)
  return {
    prisma: new PrismaClient({ adapter }),
    adapter,
    redis: await createRedis(config.REDIS_URL, 'holo-file'),
    store: new S3ObjectStore(createS3(config), config.S3_BUCKET, config.S3_REGION),
    keys: new JwksKeyStore({ url: config.AUTH_JWKS_URL }).start()
  }
}

export async function closeDeps (deps: Deps): Promise<void> {
  deps.keys.stop?.()
  await Promise.allSettled([deps.prisma.$disconnect(), closeRedis(deps.redis)])
}
