import type { Redis } from 'ioredis'
import {
  closeRedis, createRedis, fileReferenceCheck, pgAdapter, type FileReferenceCheck, type ObservablePrismaPg
} from '@holo/shared'
import { PrismaClient } from './generated/prisma/client.js'
import type { Config } from './config.js'
import { loadSigningKeys, type SigningKeys } from './keys.js'
import { createMailer, type Mailer } from './mailer.js'
import { PasswordHasher } from './passwords.js'

export interface Deps {
  prisma: PrismaClient
  /** Prisma's adapter, kept so its pg pool can be observed. */
  adapter: ObservablePrismaPg
  redis: Redis
  keys: SigningKeys
  hasher: PasswordHasher
  mailer: Mailer
  checkFile: FileReferenceCheck
}

export async function createDeps (config: Config): Promise<Deps> {
  const keys = await loadSigningKeys(config)
  const adapter = pgAdapter(config)
  return {
    prisma: new PrismaClient({ adapter }),
    adapter,
    redis: await createRedis(config.REDIS_URL, 'holo-auth'),
    keys,
    hasher: new PasswordHasher({
      memoryCost: config.ARGON2_MEMORY_KIB,
      timeCost: config.ARGON2_TIME_COST,
      parallelism: config.ARGON2_PARALLELISM
    }),
    mailer: createMailer(config.SMTP_URL, config.MAIL_FROM),
    checkFile: fileReferenceCheck({ baseUrl: config.FILE_SERVICE_URL, timeoutMs: config.FILE_SERVICE_TIMEOUT_MS })
  }
}

export async function closeDeps (deps: Deps): Promise<void> {
  await deps.mailer.drain()
  deps.mailer.close()
  await Promise.allSettled([deps.prisma.$disconnect(), closeRedis(deps.redis)])
}
