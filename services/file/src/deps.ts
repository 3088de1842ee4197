import type { Redis } from 'ioredis'
import type { Client as S3Client } from 'minio'
import { closeRedis, createRedis, pgAdapter } from '@holo/shared'
import { PrismaClient } from './generated/prisma/client.js'
import type { Config } from './config.js'
import { createS3 } from './storage.js'

export interface Deps {
  prisma: PrismaClient
  redis: Redis
  s3: S3Client
}

export async function createDeps (config: Config): Promise<Deps> {
  return {
    prisma: new PrismaClient({ adapter: pgAdapter(config) }),
    redis: await createRedis(config.REDIS_URL, 'holo-file'),
    s3: createS3(config)
  }
}

export async function closeDeps (deps: Deps): Promise<void> {
  await Promise.allSettled([deps.prisma.$disconnect(), closeRedis(deps.redis)])
}
