import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { authPlugin, corePlugin, serviceFastifyOptions } from '@holo/shared'
import type { Config } from './config.js'
import type { Deps } from './deps.js'
import { rateLimitsPlugin } from './plugins/rate-limits.js'
import { AccountsRepository } from './modules/accounts/accounts.repository.js'
import { AccountsService } from './modules/accounts/accounts.service.js'
import { authRoutes } from './modules/accounts/auth.routes.js'
import { usersRoutes } from './modules/accounts/users.routes.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The account rules (tests use it to wait for background mail). */
    accounts: AccountsService
  }
}

export interface AppOptions {
  logStream?: NodeJS.WritableStream
}

/** Builds the auth service from its config and clients; never reads env, never listens. */
export async function buildApp (config: Config, deps: Deps, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(serviceFastifyOptions({ service: 'auth', logLevel: config.LOG_LEVEL, logStream: options.logStream }))
    .withTypeProvider<TypeBoxTypeProvider>()

  await app.register(corePlugin, {
    service: 'auth',
    observe: { pg: deps.adapter, redis: deps.redis },
    openapi: { title: 'Holo Cards auth service', description: 'Accounts, sessions, tokens, roles and password flows' },
    checks: {
      postgres: { check: () => deps.prisma.$queryRaw`SELECT 1` },
      redis: { check: () => deps.redis.ping() }
    }
  })
  // The same verifier the other services use, fed with this service's own keys (no JWKS round trip).
  await app.register(authPlugin, { keys: deps.keys, issuer: config.AUTH_ISSUER, redis: deps.redis })
  await app.register(rateLimitsPlugin, { redis: deps.redis, nameSpace: config.RATE_LIMIT_NAMESPACE, windowSeconds: config.RATE_LIMIT_WINDOW_SECONDS })

  const service = new AccountsService({
    config,
    repo: new AccountsRepository(deps.prisma),
    redis: deps.redis,
    keys: deps.keys,
    hasher: deps.hasher,
    mailer: deps.mailer,
    metrics: app.metrics
  })
  app.decorate('accounts', service)
  app.addHook('onClose', async () => { await service.drain() })

  await app.register(async function api (api) {
    await api.register(authRoutes, { service, config, keys: deps.keys })
    await api.register(usersRoutes, { service })
  }, { prefix: '/api/v1/auth' })

  if (config.BOOTSTRAP_ADMIN_EMAIL !== undefined && config.BOOTSTRAP_ADMIN_PASSWORD !== undefined) {
    await service.bootstrapAdmin(config.BOOTSTRAP_ADMIN_EMAIL, config.BOOTSTRAP_ADMIN_PASSWORD, { ip: null, userAgent: null, requestId: 'bootstrap', log: app.log })
    app.log.info({ email: config.BOOTSTRAP_ADMIN_EMAIL }, 'bootstrap admin ensured')
  }

  return app
}
