import fastifyCookie from '@fastify/cookie'
import type { FastifyInstance } from 'fastify'
import { createService, relayOutbox } from '@holo/shared'
import type { Config } from './config.js'
import type { Deps } from './deps.js'
import { authMetrics } from './metrics.js'
import { RateCounters, rateLimitsPlugin } from './plugins/rate-limits.js'
import { RefreshCookie } from './modules/accounts/accounts.cookie.js'
import { AccountsCore } from './modules/accounts/accounts.core.js'
import { AccountsRepository } from './modules/accounts/accounts.repository.js'
import { LoginThrottle } from './modules/accounts/accounts.throttle.js'
import { passwordChangeRoutes, passwordFlowRoutes } from './modules/accounts/passwords.routes.js'
import { PasswordsService } from './modules/accounts/passwords.service.js'
import { sessionRoutes, signInRoutes } from './modules/accounts/sessions.routes.js'
import { SessionsService } from './modules/accounts/sessions.service.js'
import { adminRoutes, meRoutes, profileRoutes } from './modules/accounts/users.routes.js'
import { UsersService } from './modules/accounts/users.service.js'
import { IdentitiesRepository } from './modules/oauth/identities.repository.js'
import { AvatarImporter } from './modules/oauth/oauth.avatar.js'
import { PictureFetcher } from './modules/oauth/oauth.picture.js'
import { createProvider } from './modules/oauth/oauth.providers.js'
import { identityRoutes, oauthRoutes } from './modules/oauth/oauth.routes.js'
import { OAuthService } from './modules/oauth/oauth.service.js'
import { OAuthStore } from './modules/oauth/oauth.store.js'
import { RolesRepository } from './modules/roles/roles.repository.js'
import { rolesRoutes } from './modules/roles/roles.routes.js'
import { RolesService } from './modules/roles/roles.service.js'

/** The account services, and a way to wait for the work they do after a response (tests wait for mail). */
export interface Accounts {
  sessions: SessionsService
  passwords: PasswordsService
  users: UsersService
  oauth: OAuthService
  roles: RolesService
  /** Resolves once background work (password-reset lookups) and the mail it sent are done. */
  drain: () => Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    accounts: Accounts
  }
}

export interface AppOptions {
  logStream?: NodeJS.WritableStream
}

/** Builds the auth service from its config and clients; never reads env, never listens. */
export async function buildApp (config: Config, deps: Deps, options: AppOptions = {}): Promise<FastifyInstance> {
  return await createService({
    name: 'auth',
    title: 'Holo Cards auth service',
    description: 'Accounts, sessions, tokens, roles and password flows',
    config,
    logStream: options.logStream,
    checks: {
      postgres: { check: () => deps.prisma.$queryRaw`SELECT 1` },
      redis: { check: () => deps.redis.ping() }
    },
    observe: { pg: deps.adapter, redis: deps.redis },
    // The same verifier the other services use, fed with this service's own keys (no JWKS round trip).
    auth: {
      keys: deps.keys,
      issuer: config.AUTH_ISSUER,
      redis: deps.redis,
      registry: { key: config.ROLES_REGISTRY_KEY }
    },
    modules: async (app) => {
      // Transactions of this client that write events wake the relays after their commit.
      const prisma = relayOutbox(app, config, deps.redis, deps.prisma)
      const roles = await rolesModule(app, config, { ...deps, prisma })
      await accountsModule(app, config, { ...deps, prisma }, roles)
    }
  })
}

/**
 * Roles and their permissions. The registry every service reads is written from the table at start (a fresh
 * Redis learns it) and again whenever Redis comes back (a change made while it was down reaches it then).
 */
async function rolesModule (app: FastifyInstance, config: Config, deps: Deps): Promise<RolesService> {
  const roles = new RolesService({
    repo: new RolesRepository(deps.prisma, config.DATABASE_SCHEMA),
    redis: deps.redis,
    registryKey: config.ROLES_REGISTRY_KEY,
    log: app.log,
    written: async () => { await app.roleRegistry.refresh() }
  })
  const republish = (fresh: boolean) => async (): Promise<void> => {
    await roles.publish(fresh).catch((err: unknown) => { app.log.warn({ err }, 'role registry not written (Redis)') })
  }
  await republish(true)()
  const onReady = (): void => { void republish(false)() }
  deps.redis.on('ready', onReady)
  app.addHook('onClose', async () => { deps.redis.off('ready', onReady) })
  return roles
}

async function accountsModule (app: FastifyInstance, config: Config, deps: Deps, roles: RolesService): Promise<void> {
  const metrics = authMetrics(app.metrics)
  const counters = new RateCounters(deps.redis, config.RATE_LIMIT_NAMESPACE, config.RATE_LIMIT_WINDOW_SECONDS * 1000)
  await app.register(rateLimitsPlugin, { counters })
  const throttle = new LoginThrottle(counters, {
    perAccountIp: config.RATE_LIMIT_LOGIN_PER_ACCOUNT_IP,
    perAccount: config.RATE_LIMIT_LOGIN_PER_ACCOUNT,
    delayMs: config.RATE_LIMIT_LOGIN_DELAY_MS,
    maxDelayMs: config.RATE_LIMIT_LOGIN_MAX_DELAY_MS,
    knownDeviceTtlSeconds: config.RATE_LIMIT_KNOWN_DEVICE_TTL_SECONDS
  }, metrics)

  const core = new AccountsCore({
    config,
    repo: new AccountsRepository(deps.prisma, config.DATABASE_SCHEMA),
    redis: deps.redis,
    hasher: deps.hasher,
    mailer: deps.mailer
  })
  const sessions = new SessionsService(core, deps.keys, throttle, metrics)
  const passwords = new PasswordsService(core)
  const users = new UsersService(core, deps.checkFile)
  const providerOptions = { timeoutMs: config.OAUTH_HTTP_TIMEOUT_MS, allowHttp: config.NODE_ENV !== 'production' }
  const fetcher = config.OAUTH_AVATAR_IMPORT
    ? new PictureFetcher({
      maxBytes: config.OAUTH_AVATAR_MAX_BYTES,
      timeoutMs: config.OAUTH_AVATAR_TIMEOUT_MS,
      allowLoopback: config.OAUTH_AVATAR_ALLOW_LOOPBACK
    })
    : null
  const avatars = fetcher === null
    ? null
    : new AvatarImporter(fetcher, core.repo, deps.keys, metrics, {
      fileServiceUrl: config.FILE_SERVICE_URL,
      timeoutMs: config.OAUTH_AVATAR_TIMEOUT_MS
    })
  const oauth = new OAuthService(core, new IdentitiesRepository(deps.prisma, config.DATABASE_SCHEMA),
    new OAuthStore(deps.redis), sessions, metrics, {
      providers: config.oauthProviders.map((p) => createProvider(p, providerOptions)),
      redirects: config.oauthRedirects,
      publicUrl: config.PUBLIC_URL,
      codeTtlSeconds: config.OAUTH_CODE_TTL_SECONDS,
      flowTtlSeconds: config.OAUTH_FLOW_TTL_SECONDS,
      avatars
    })
  app.decorate('accounts', { sessions, passwords, users, oauth, roles, drain: async () => { await core.drain() } })
  app.addHook('onClose', async () => {
    // Imports in flight finish (each is bounded) before their connections go.
    await core.drain()
    fetcher?.close()
  })

  const cookie = new RefreshCookie({
    secure: config.AUTH_COOKIE_SECURE,
    maxAgeSeconds: config.REFRESH_TOKEN_TTL_SECONDS
  })
  await app.register(async function api (api) {
    // Cookies are parsed and set for the auth API only (the refresh cookie's path is this prefix anyway).
    await api.register(fastifyCookie)
    // Every answer here may carry tokens (RFC 6749 §5.1) or personal data: no cache may store it. A route
    // with a cacheable answer sets its own Cache-Control (the JWKS does) and this leaves it alone.
    api.addHook('onSend', async (_request, reply, payload) => {
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
      // HTTP/1.0 caches know only Pragma (problem responses come with no-store already).
      if (reply.getHeader('cache-control') === 'no-store') reply.header('pragma', 'no-cache')
      return payload
    })
    await api.register(signInRoutes, { sessions, config, keys: deps.keys, cookie })
    await api.register(sessionRoutes, { sessions })
    await api.register(passwordChangeRoutes, { passwords })
    await api.register(passwordFlowRoutes, { passwords, config })
    await api.register(meRoutes, { users })
    await api.register(adminRoutes, { users })
    await api.register(rolesRoutes, { roles })
    await api.register(profileRoutes, { users })
    const oauthOptions = {
      oauth,
      publicUrl: config.PUBLIC_URL,
      flowTtlSeconds: config.OAUTH_FLOW_TTL_SECONDS,
      perIp: config.RATE_LIMIT_OAUTH_PER_IP,
      cookie
    }
    await api.register(oauthRoutes, oauthOptions)
    await api.register(identityRoutes, oauthOptions)
  }, { prefix: '/api/v1/auth' })

  if (config.BOOTSTRAP_ADMIN_EMAIL !== undefined && config.BOOTSTRAP_ADMIN_PASSWORD !== undefined) {
    const ctx = { ip: null, userAgent: null, requestId: 'bootstrap', log: app.log }
    await users.bootstrapAdmin(config.BOOTSTRAP_ADMIN_EMAIL, config.BOOTSTRAP_ADMIN_PASSWORD, ctx)
    app.log.info({ email: config.BOOTSTRAP_ADMIN_EMAIL }, 'bootstrap admin ensured')
  }
}
