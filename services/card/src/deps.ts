import type { Redis } from 'ioredis'
import {
  closeRedis, createRedis, fileReferenceCheck, JwksKeyStore, pgAdapter, type FileReferenceCheck, type ObservablePrismaPg
} from '@holo/shared'
import { PrismaClient } from './generated/prisma/client.js'
import type { Config } from './config.js'

export interface Deps {
  prisma: PrismaClient
  /** Prisma's adapter, kept so its pg pool can be observed. */
  adapter: ObservablePrismaPg
  redis: Redis
  keys: JwksKeyStore
  /** The file service, asked before a card references a file. */
  checkFile: FileReferenceCheck
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
    checkFile: fileReferenceCheck({ baseUrl: config.FILE_SERVICE_URL, timeoutMs: config.FILE_SERVICE_TIMEOUT_MS })
  }
}

export async function closeDeps (deps: Deps): Promise<void> {
  deps.keys.stop()
  await Promise.allSettled([deps.prisma.$disconnect(), closeRedis(deps.redis)])
}
