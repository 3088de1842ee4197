import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import type { Redis } from 'ioredis'
import { commonErrors } from '@holo/shared'

// One fixed-window step in one round trip: count, start the window on the first hit (or on a key that
// somehow lost its expiry), and say how long the window has left.
const HIT = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}`

interface HitCommand { holoAuthHit: (key: string, windowMs: number) => Promise<[number, number]> }

/** Retry-After of a breached window: the whole seconds it has left, at least one. */
export const retryAfterSeconds = (ttlMs: number): number => Math.max(1, Math.ceil(ttlMs / 1000))

/**
 * Fixed-window counters in Redis, so limits hold across instances. Every key is
 * `<RATE_LIMIT_NAMESPACE><name>`, e.g. `auth:rl:login:ip:203.0.113.7`.
 */
export class RateCounters {
  constructor (readonly redis: Redis, readonly nameSpace: string, readonly windowMs: number) {
    if (!('holoAuthHit' in redis)) redis.defineCommand('holoAuthHit', { numberOfKeys: 1, lua: HIT })
  }

  key (name: string): string { return this.nameSpace + name }

  /** Counts one event; returns the count in the current window and the milliseconds it has left. */
  async hit (name: string): Promise<{ count: number, ttlMs: number }> {
    const [count, ttlMs] = await (this.redis as unknown as HitCommand).holoAuthHit(this.key(name), this.windowMs)
    return { count, ttlMs }
  }

  /** The count in the current window, without counting. */
  async peek (name: string): Promise<number> {
    return Number(await this.redis.get(this.key(name)) ?? 0)
  }
}

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

export interface RateLimitsOptions { counters: RateCounters }

/** Fixed-window limits of every attempt; a breach is a 429 problem with Retry-After. */
export const rateLimitsPlugin = fp(async function rateLimitsPlugin (app: FastifyInstance, o: RateLimitsOptions) {
  const { counters } = o
  app.decorate('limits', (...limits: Limit[]): preHandlerAsyncHookHandler => async function enforceLimits (request) {
    for (const limit of limits) {
      const id = limit.key(request)
      if (id === undefined) continue
      let hit: { count: number, ttlMs: number }
      try {
        hit = await counters.hit(`${limit.name}:${id}`)
      } catch (err) {
        // Redis down: better to skip the limit than to refuse every login.
        request.log.error({ err, limit: limit.name }, 'rate limit skipped: Redis unavailable')
        continue
      }
      if (hit.count > limit.max) {
        request.log.warn({ limit: limit.name }, 'rate limit exceeded')
        throw commonErrors.RATE_LIMITED(retryAfterSeconds(hit.ttlMs))
      }
    }
  })
}, { name: 'auth-rate-limits' })
