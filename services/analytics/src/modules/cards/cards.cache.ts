// Top lists served from Redis for a few seconds: every instance computes the same answer, so one computation
// serves them all until it expires. Redis down: computed every time.
import type { Redis } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import type { CacheCounter } from '@holo/shared'
import type { TopList } from './cards.schemas.js'

export class TopCache {
  constructor (
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
    private readonly counter: CacheCounter,
    private readonly log: FastifyBaseLogger,
    /** The service's key prefix; the cache adds `top:v1:`. */
    keyPrefix: string
  ) {
    this.prefix = `${keyPrefix}top:v1:`
  }

  private readonly prefix: string

  async getOrCompute (key: string, compute: () => Promise<TopList>): Promise<TopList> {
    if (this.ttlSeconds === 0) return await compute()
    const cached = await this.redis.get(this.prefix + key).catch((err: unknown) => {
      this.log.warn({ err }, 'top-list cache unavailable (Redis)')
      return null
    })
    if (cached !== null) {
      this.counter.hit()
      return JSON.parse(cached) as TopList
    }
    this.counter.miss()
    const list = await compute()
    await this.redis.set(this.prefix + key, JSON.stringify(list), 'EX', this.ttlSeconds).catch(() => {})
    return list
  }
}
