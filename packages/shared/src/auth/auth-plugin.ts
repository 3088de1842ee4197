// Kept in the emitted .d.ts (TypeScript drops it otherwise): services built
// against dist/ need @fastify/jwt's `request.user` typing.
/// <reference types="@fastify/jwt" preserve="true" />
import fp from 'fastify-plugin'
import jwt from '@fastify/jwt'
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import type { Redis } from 'ioredis'
import { forbidden, unauthorized } from '../errors.js'
import { ACCESS_TOKEN_ALG, ACCESS_TOKEN_AUDIENCE, revokedSessionKey, type AccessClaims, type AuthUser, type Role } from './tokens.js'
import type { KeyResolver } from './key-store.js'

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessClaims
    /** The verified caller, or null for an anonymous request. */
    user: AuthUser | null
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler: 401 unless the request carries a valid access token. */
    authenticate: preHandlerAsyncHookHandler
    /** preHandler: 401 without a token, 403 unless the caller has one of the roles (admin always passes). */
    requireRole: (...roles: Role[]) => preHandlerAsyncHookHandler
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
}

export const hasRole = (user: AuthUser | null, ...roles: Role[]): boolean =>
  user !== null && (user.roles.includes('admin') || roles.some((r) => user.roles.includes(r)))

/**
 * Verifies access tokens (EdDSA only, pinned issuer and audience, required
 * claims), refuses tokens of revoked sessions, and sets `request.user`
 * ({ id, roles, sessionId }).
 * A request without Authorization is anonymous; a bad token is always 401.
 */
export const authPlugin = fp(async function authPlugin (app: FastifyInstance, o: AuthPluginOptions) {
  const cacheMs = o.revocationCacheMs ?? 500
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

  await app.register(jwt, {
    secret: {
      public: async (_request: FastifyRequest, token: unknown) => {
        const kid = (token as { header?: { kid?: string } }).header?.kid
        const key = kid === undefined ? undefined : await o.keys.get(kid)
        if (key === undefined) throw unauthorized('The access token was signed by an unknown key', 'TOKEN_INVALID')
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
    formatUser: (p) => ({ id: p.sub, roles: Array.isArray(p.roles) ? p.roles : ['user'], sessionId: p.sid }),
    trusted: async (request: FastifyRequest, decoded: unknown) => {
      const sid = (decoded as { payload?: AccessClaims }).payload?.sid ?? (decoded as AccessClaims).sid
      return typeof sid === 'string' && !(await isRevoked(sid, request))
    }
  } as jwt.FastifyJWTOptions)

  app.addHook('onRequest', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    if (header === undefined) return
    if (!/^Bearer\s+\S+$/i.test(header)) throw unauthorized('The Authorization header must be "Bearer <access token>"', 'TOKEN_INVALID')
    try {
      await request.jwtVerify()
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED') throw unauthorized('The access token has expired', 'TOKEN_EXPIRED')
      if (code === 'FST_JWT_AUTHORIZATION_TOKEN_UNTRUSTED') throw unauthorized('The session of this access token has ended', 'SESSION_REVOKED')
      if ((err as { statusCode?: number }).statusCode === 401 && (err as { code?: string }).code === 'TOKEN_INVALID') throw err
      request.log.debug({ err }, 'access token refused')
      throw unauthorized('The access token is invalid', 'TOKEN_INVALID')
    }
  })

  const authenticate: preHandlerAsyncHookHandler = async function (request: FastifyRequest, _reply: FastifyReply) {
    if (request.user === null) throw unauthorized()
  }
  app.decorate('authenticate', authenticate)
  app.decorate('requireRole', (...roles: Role[]): preHandlerAsyncHookHandler => async function (request: FastifyRequest) {
    if (request.user === null) throw unauthorized()
    if (!hasRole(request.user, ...roles)) throw forbidden(`This needs one of the roles: ${roles.join(', ')}`)
  })
}, { name: 'holo-auth' })
