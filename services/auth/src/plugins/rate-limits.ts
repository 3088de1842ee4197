import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import type { Redis } from 'ioredis'
import { tooManyRequests } from '@holo/shared'

export interface Limit {
  /** Counter name, e.g. "login:ip". */
  name: string
  max: number
  /** What is counted: an IP, an account; undefined skips this limit for the request. */
  key: (request: FastifyRequest) => string | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler enforcing every limit (all counted in Redis, so they hold across instances). */
    limits: (...limits: Limit[]) => preHandlerAsyncHookHandler
  }
}

export interface RateLimitsOptions { redis: Redis, nameSpace: string, windowSeconds: number }

/** Fixed-window limits in Redis; a breach is a 429 problem with Retry-After. */
export const rateLimitsPlugin = fp(async function rateLimitsPlugin (app: FastifyInstance, o: RateLimitsOptions) {
  await app.register(rateLimit, { global: false, redis: o.redis, nameSpace: o.nameSpace, skipOnError: true })
  app.decorate('limits', (...limits: Limit[]): preHandlerAsyncHookHandler => {
    const checks = limits.map((l) => ({
      limit: l,
      check: app.createRateLimit({ max: l.max, timeWindow: o.windowSeconds * 1000, keyGenerator: (req) => `${l.name}:${l.key(req) ?? ''}` })
    }))
    return async function enforceLimits (request: FastifyRequest) {
      for (const { limit, check } of checks) {
        if (limit.key(request) === undefined) continue
        const result = await check(request)
        if (!result.isAllowed && result.isExceeded) {
          request.log.warn({ limit: limit.name }, 'rate limit exceeded')
          throw tooManyRequests(Math.max(1, result.ttlInSeconds))
        }
      }
    }
  })
}, { name: 'auth-rate-limits' })
