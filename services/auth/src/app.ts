import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { authPlugin, corePlugin, serviceFastifyOptions } from '@holo/shared'
import type { Config } from './config.js'
import type { Deps } from './deps.js'
import { RateCounters, rateLimitsPlugin } from './plugins/rate-limits.js'
import { AccountsRepository } from './modules/accounts/accounts.repository.js'
import { AccountsService } from './modules/accounts/accounts.service.js'
import { LoginThrottle } from './modules/accounts/accounts.throttle.js'
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
  const counters = new RateCounters(deps.redis, config.RATE_LIMIT_NAMESPACE, config.RATE_LIMIT_WINDOW_SECONDS * 1000)
  await app.register(rateLimitsPlugin, { counters })
  const throttle = new LoginThrottle(counters, {
    perAccountIp: config.RATE_LIMIT_LOGIN_PER_ACCOUNT_IP,
    perAccount: config.RATE_LIMIT_LOGIN_PER_ACCOUNT,
    delayMs: config.RATE_LIMIT_LOGIN_DELAY_MS,
    maxDelayMs: config.RATE_LIMIT_LOGIN_MAX_DELAY_MS,
    knownDeviceTtlSeconds: config.RATE_LIMIT_KNOWN_DEVICE_TTL_SECONDS
  }, app.metrics)

  const service = new AccountsService({
    config,
    repo: new AccountsRepository(deps.prisma),
    redis: deps.redis,
    keys: deps.keys,
    hasher: deps.hasher,
    mailer: deps.mailer,
    metrics: app.metrics,
    throttle
  })
  app.decorate('accounts', service)
  app.addHook('onClose', async () => { await service.drain() })

  await app.register(async function api (api) {
    // Every answer here may carry tokens (RFC 6749 §5.1) or personal data: no cache may store it. A route
    // with a cacheable answer sets its own Cache-Control (the JWKS does) and this leaves it alone.
    api.addHook('onSend', async (_request, reply, payload) => {
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
      return payload
    })
    await api.register(authRoutes, { service, config, keys: deps.keys })
    await api.register(usersRoutes, { service })
  }, { prefix: '/api/v1/auth' })

  if (config.BOOTSTRAP_ADMIN_EMAIL !== undefined && config.BOOTSTRAP_ADMIN_PASSWORD !== undefined) {
    await service.bootstrapAdmin(config.BOOTSTRAP_ADMIN_EMAIL, config.BOOTSTRAP_ADMIN_PASSWORD, { ip: null, userAgent: null, requestId: 'bootstrap', log: app.log })
    app.log.info({ email: config.BOOTSTRAP_ADMIN_EMAIL }, 'bootstrap admin ensured')
  }

  return app
}
