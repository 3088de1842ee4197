// Kept in the emitted .d.ts (TypeScript drops it otherwise): services built
// against dist/ need @fastify/jwt's `request.user` typing.
/// <reference types="@fastify/jwt" preserve="true" />
import fp from 'fastify-plugin'
import jwt from '@fastify/jwt'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type {
  FastifyInstance,
  FastifyPluginOptions,
  FastifyRequest,
  onRequestAsyncHookHandler,
  RouteOptions
} from 'fastify'
import type { Redis } from 'ioredis'
import { commonErrors } from '../errors.js'
import { bearerSecurity, noSecurity, optionalBearerSecurity, ProblemSchema } from '../schemas.js'
import {
  ACCESS_TOKEN_ALG,
  ACCESS_TOKEN_AUDIENCE,
  revokedSessionKey,
  type AccessClaims,
  type AuthUser
} from './tokens.js'
import type { KeyResolver } from './key-store.js'
import type { Permission } from './permissions.js'
import { RoleRegistry } from './role-registry.js'

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessClaims
    /** The verified caller, or null for an anonymous request. */
    user: AuthUser | null
  }
}

/**
 * Who may call a route: `public` needs no token and ignores one, `optional`
 * verifies a token when one is sent (a bad one is 401), `required` needs one.
 */
export type AuthMode = 'public' | 'optional' | 'required'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route (else the mode of the scope it sits in). */
    auth?: AuthMode
    /** With `auth: 'required'`: the caller needs every one of these permissions, else 403 naming one missing. */
    permissions?: Permission[]
  }
  interface FastifyInstance {
    /** The role → permissions map this service follows (see role-registry.ts). */
    roleRegistry: RoleRegistry
  }
  interface FastifyRequest {
    /** The signed-in caller. Reading it on a request nobody signed in to throws a 401. */
    readonly caller: AuthUser
    /** The signed-in caller, or null for an anonymous request. */
    readonly viewer: AuthUser | null
  }
}

export interface AuthPluginOptions {
  keys: KeyResolver
  issuer: string
  audience?: string
  /** Redis holding revoked session ids; verification fails open (logged) while it is down. */
  redis: Redis
  /** How long a "not revoked" answer is reused in-process; revocations take effect within this. */
  revocationCacheMs?: number
  /**
   * The mode of a route that declares none and sits in no scope. Unset, such a
   * route is refused when it is registered: who may call a route is never left
   * to a default.
   */
  defaultMode?: AuthMode
  /** Where the role registry lives in `redis` (ROLES_REGISTRY_KEY) and how often its version is polled. */
  registry?: { key?: string, pollMs?: number }
}

const asArray = <T>(v: T | T[] | undefined): T[] => v === undefined ? [] : Array.isArray(v) ? v : [v]

const SCOPE = Symbol.for('holo.authScope')
interface ScopeAuth { mode: AuthMode, permissions?: Permission[] }
type Scoped = FastifyInstance & { [SCOPE]?: ScopeAuth }

/** The kit's services type their routes with TypeBox; a scope hands back the plugin type it was given. */
type Routes<O extends FastifyPluginOptions> = FastifyPluginAsyncTypebox<O>

function scope<O extends FastifyPluginOptions> (auth: ScopeAuth, routes: Routes<O>): Routes<O> {
  const plugin = async function (app: Scoped, opts: unknown): Promise<void> {
    // Instances of child contexts inherit from their parent's: this shadows it for this scope only.
    app[SCOPE] = auth
    await (routes as unknown as (app: FastifyInstance, opts: unknown) => Promise<void>)(app, opts)
  }
  Object.defineProperty(plugin, 'name', { value: `${auth.mode}-scope(${routes.name})` })
  return plugin as unknown as Routes<O>
}

/** Registers routes that need a signed-in caller (holding every one of `permissions` when given). */
export const authenticated = <O extends FastifyPluginOptions>(
  routes: Routes<O>,
  o: { permissions?: Permission[] } = {}
): Routes<O> => scope({ mode: 'required', permissions: o.permissions }, routes)
/** Registers routes that work anonymously and answer personally when a token is sent. */
export const optionalAuth = <O extends FastifyPluginOptions>(routes: Routes<O>): Routes<O> =>
  scope({ mode: 'optional' }, routes)
/** Registers routes that need no token and ignore one. */
export const publicRoutes = <O extends FastifyPluginOptions>(routes: Routes<O>): Routes<O> =>
  scope({ mode: 'public' }, routes)

/** Whether the caller's roles grant `permission` now (an anonymous caller has none). */
export const can = (user: AuthUser | null, permission: Permission): boolean =>
  user !== null && user.permissions.has(permission)

/**
 * Verifies access tokens (EdDSA only, pinned issuer and audience, required
 * claims), refuses tokens of revoked sessions, and sets `request.user`
 * ({ id, roles, sessionId, permissions }): the permissions come from the role
 * registry at each request, so a role's change reaches tokens already issued.
 * A request without Authorization is anonymous; a bad token is always 401.
 */
export const authPlugin = fp(async function authPlugin (app: FastifyInstance, o: AuthPluginOptions) {
  const cacheMs = o.revocationCacheMs ?? 500
  const registry = new RoleRegistry({ redis: o.redis, key: o.registry?.key, pollMs: o.registry?.pollMs, log: app.log })
  await registry.start()
  app.addHook('onClose', async () => { await registry.close() })
  app.decorate('roleRegistry', registry)
  const revocationCache = new Map<string, { revoked: boolean, until: number }>()
  let lastRedisWarning = 0

  async function isRevoked (sessionId: string, request: FastifyRequest): Promise<boolean> {
    const now = Date.now()
    const cached = revocationCache.get(sessionId)
    if (cached !== undefined && cached.until > now) return cached.revoked
    try {
      const revoked = (await o.redis.exists(revokedSessionKey(sessionId))) === 1
      if (revocationCache.size > 50_000) revocationCache.clear()
      revocationCache.set(sessionId, { revoked, until: now + cacheMs })
      return revoked
    } catch (err) {
      if (now - lastRedisWarning > 1000) {
        lastRedisWarning = now
        request.log.warn({ err }, 'revocation check unavailable (Redis); accepting unexpired tokens')
      }
      return cached?.revoked ?? false
    }
  }

  // Tokens whose signature, issuer, audience and claims were verified, with their expiry: a signed-in client
  // sends the same token for minutes, and decoding and hashing it on every request cost a tenth of a cached
  // read. Revocation and expiry are still checked on every request.
  const verified = new Map<string, { user: AuthUser, expiresAt: number }>()
  /** A verified token's `exp`, handed from the trust check to verify() (jwtVerify answers the formatted user). */
  const expiries = new WeakMap<FastifyRequest, number>()

  await app.register(jwt, {
    secret: {
      public: async (_request: FastifyRequest, token: unknown) => {
        const kid = (token as { header?: { kid?: string } }).header?.kid
        const key = kid === undefined ? undefined : await o.keys.get(kid)
        if (key === undefined) throw commonErrors.TOKEN_INVALID('The access token was signed by an unknown key')
        return key
      }
    },
    decode: { complete: true },
    verify: {
      algorithms: [ACCESS_TOKEN_ALG],
      allowedIss: o.issuer,
      allowedAud: o.audience ?? ACCESS_TOKEN_AUDIENCE,
      requiredClaims: ['sub', 'sid', 'iat', 'exp', 'jti', 'iss', 'aud'],
      cache: true
    },
    formatUser: (p) => {
      const roles = Array.isArray(p.roles) ? p.roles : ['user']
      return { id: p.sub, roles, sessionId: p.sid, permissions: registry.permissionsOf(roles) }
    },
    trusted: async (request: FastifyRequest, decoded: unknown) => {
      const claims = (decoded as { payload?: AccessClaims }).payload ?? (decoded as AccessClaims)
      if (typeof claims.exp === 'number') expiries.set(request, claims.exp)
      return typeof claims.sid === 'string' && !(await isRevoked(claims.sid, request))
    }
  } as jwt.FastifyJWTOptions)

  const VERIFIED_MAX = 50_000

  async function verify (request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization
    if (header === undefined) return
    if (!/^Bearer\s+\S+$/i.test(header)) {
      throw commonErrors.TOKEN_INVALID('The Authorization header must be "Bearer <access token>"')
    }
    const token = header.slice(header.lastIndexOf(' ') + 1)
    const known = verified.get(token)
    if (known !== undefined && known.expiresAt > Date.now()) {
      if (await isRevoked(known.user.sessionId, request)) throw commonErrors.SESSION_REVOKED()
      // The cached claims with the permissions their roles grant now (memoised per role set and registry version).
      request.user = { ...known.user, permissions: registry.permissionsOf(known.user.roles) }
      return
    }
    try {
      await request.jwtVerify()
      const exp = expiries.get(request)
      if (request.user != null && exp !== undefined) {
        if (verified.size >= VERIFIED_MAX) verified.clear()
        verified.set(token, { user: request.user, expiresAt: exp * 1000 })
      }
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED') {
        throw commonErrors.TOKEN_EXPIRED()
      }
      if (code === 'FST_JWT_AUTHORIZATION_TOKEN_UNTRUSTED') {
        throw commonErrors.SESSION_REVOKED()
      }
      if ((err as { statusCode?: number }).statusCode === 401 && code === 'TOKEN_INVALID') throw err
      request.log.debug({ err }, 'access token refused')
      throw commonErrors.TOKEN_INVALID()
    }
  }
  const optional: onRequestAsyncHookHandler = async (request) => { await verify(request) }
  const required = (permissions: Permission[] | undefined): onRequestAsyncHookHandler => async (request) => {
    await verify(request)
    const user = request.user
    if (user === null) throw commonErrors.UNAUTHORIZED()
    const missing = permissions?.find((p) => !user.permissions.has(p))
    if (missing !== undefined) throw commonErrors.FORBIDDEN(`This needs the permission ${missing}`)
  }

  app.decorateRequest('caller', {
    getter (this: FastifyRequest): AuthUser {
      if (this.user == null) throw commonErrors.UNAUTHORIZED()
      return this.user
    }
  })
  app.decorateRequest('viewer', {
    getter (this: FastifyRequest): AuthUser | null { return this.user ?? null }
  })

  // Each route gets the one hook its mode needs, and its OpenAPI security and
  // 401/403 responses follow from the same declaration.
  app.addHook('onRoute', function (this: Scoped, route: RouteOptions) {
    const inherited = this[SCOPE]
    const mode = route.config?.auth ?? inherited?.mode ?? o.defaultMode
    if (mode === undefined) {
      throw new Error(
        `${String(route.method)} ${route.url} declares no auth mode: set config.auth or register it in a scope`
      )
    }
    // Role names are data now: a route still naming roles would be open to every signed-in caller.
    if ((route.config as { roles?: unknown } | undefined)?.roles !== undefined) {
      throw new Error(`${String(route.method)} ${route.url} names roles: declare the permissions it needs instead`)
    }
    // A route in a scope with permissions keeps them unless it names its own.
    const permissions = route.config?.permissions ?? inherited?.permissions
    const guarded = permissions !== undefined && permissions.length > 0
    if (guarded && mode !== 'required') {
      throw new Error(
        `${String(route.method)} ${route.url} names permissions but its auth mode is ${mode}, not required`
      )
    }
    if (mode === 'optional') route.onRequest = [optional, ...asArray(route.onRequest)]
    if (mode === 'required') route.onRequest = [required(permissions), ...asArray(route.onRequest)]
    route.config = { ...route.config, auth: mode, permissions }
    const schema = route.schema as Record<string, unknown> | undefined
    if (schema === undefined || schema.hide === true) return
    const response = { ...(schema.response as Record<string, unknown> | undefined) }
    if (mode !== 'public' && response[401] === undefined && response['4xx'] === undefined) response[401] = ProblemSchema
    if (mode === 'required' && guarded && response[403] === undefined) {
      response[403] = ProblemSchema
    }
    const security = mode === 'required' ? bearerSecurity : mode === 'optional' ? optionalBearerSecurity : noSecurity
    // `security` is @fastify/swagger's addition to FastifySchema.
    route.schema = {
      ...schema,
      security,
      ...(schema.response === undefined ? {} : { response })
    } as RouteOptions['schema']
  })
}, { name: 'holo-auth' })
