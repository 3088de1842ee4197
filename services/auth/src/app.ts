import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { corePlugin, serviceFastifyOptions } from '@holo/shared'
import type { Config } from './config.js'
import type { Deps } from './deps.js'

export interface AppOptions {
  logStream?: NodeJS.WritableStream
}

/** Builds the auth service from its config and clients; never reads env, never listens. */
export async function buildApp (config: Config, deps: Deps, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(serviceFastifyOptions({ service: 'auth', logLevel: config.LOG_LEVEL, logStream: options.logStream }))
    .withTypeProvider<TypeBoxTypeProvider>()

  await app.register(corePlugin, {
    service: 'auth',
    openapi: { title: 'Holo Cards auth service', description: 'Accounts, sessions, tokens, roles and password flows' },
    checks: {
      postgres: { check: () => deps.prisma.$queryRaw`SELECT 1` },
      redis: { check: () => deps.redis.ping() }
    }
  })

  return app
}
