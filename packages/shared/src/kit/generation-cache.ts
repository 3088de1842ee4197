// A Redis cache whose entries are ruled stale by generations instead of deletes. Each entry is stored with
// the generation it was read under; a write bumps the generation before it answers, and an entry whose
// generation is not current is a miss. So a slow reader that filled the cache with what it read before a
// write can never be served after that write.
//
// Every operation fails soft: with Redis down the service reads its database. A bump that failed leaves
// possibly stale entries behind, so the cache stays off until it has dropped every key of its prefix after
// Redis came back.
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { CacheCounter } from '../observability/instruments.js'

/** A read: the entry if present and current, plus the generation a later fill must carry. */
export interface CacheRead<T> { hit: T | undefined, generation: string | undefined }

export interface GenerationCacheOptions {
  redis: Redis
  /** Every key of this cache starts with it (a purge drops them all). */
  prefix: string
  log: FastifyBaseLogger
}

export class GenerationCache {
  private dirty = false
  private purging: Promise<void> | undefined

  constructor (protected readonly base: GenerationCacheOptions) {
    base.redis.on('ready', () => { if (this.dirty) void this.purge() })
  }

  /** False while Redis is not ready or after a failed bump until the purge: read the database then. */
  protected usable (): boolean { return !this.dirty && this.base.redis.status === 'ready' }

  /** The entry at `key` if it carries the current generation at `genKey` (one round trip). */
  protected async read (counter: CacheCounter, genKey: string, key: string): Promise<CacheRead<string>> {
    if (!this.usable()) { counter.miss(); return { hit: undefined, generation: undefined } }
    try {
      const [gen, value] = await this.base.redis.mget(genKey, key)
      const generation = gen ?? '0'
      if (value != null) {
        const nl = value.indexOf('\n')
        if (value.slice(0, nl) === generation) {
          counter.hit()
          return { hit: value.slice(nl + 1), generation }
        }
      }
      counter.miss()
      return { hit: undefined, generation }
    } catch (err) {
      this.base.log.warn({ err }, 'cache read failed; reading the database')
      counter.miss()
      return { hit: undefined, generation: undefined }
    }
  }

  /** Stores `value` under the generation its read saw; nothing when that read did not reach Redis. */
  protected async write (
    key: string, genKey: string, generation: string | undefined, value: string, ttlSeconds: number
  ): Promise<void> {
    // No generation means the read did not reach Redis: never fill blind.
    if (generation === undefined || !this.usable()) return
    try {
      // The generation must outlive the entry: were it to expire first, a later bump could count back to
      // the very value the entry carries and make it current again.
      await this.base.redis.multi()
        .set(key, `${generation}\n${value}`, 'EX', ttlSeconds)
        .expire(genKey, ttlSeconds * 2)
        .exec()
    } catch (err) {
      this.base.log.warn({ err }, 'cache fill failed')
    }
  }

  /** INCR (and EXPIRE, to outlive entries of `ttlSeconds`) each generation key in one round trip. */
  protected async bumpGenerations (genKeys: readonly string[], ttlSeconds: number): Promise<void> {
    if (genKeys.length === 0) return
    await this.bump(async () => {
      const multi = this.base.redis.multi()
      for (const k of genKeys) multi.incr(k).expire(k, ttlSeconds * 2)
      for (const [err] of await multi.exec() ?? []) if (err !== null) throw err
    })
  }

  /** Runs an invalidation; when it fails (or Redis is not ready), the cache is off until purged. */
  protected async bump (fn: () => Promise<void>): Promise<void> {
    if (this.base.redis.status === 'ready') {
      try {
        await fn()
        return
      } catch (err) {
        this.base.log.warn({ err }, 'cache invalidation failed; cache off until purged')
      }
    }
    this.dirty = true
  }

  /** Drops every key of this prefix, then turns the cache back on. */
  purge (): Promise<void> {
    this.purging ??= (async () => {
      try {
        let cursor = '0'
        do {
          const [next, keys] = await this.base.redis.scan(cursor, 'MATCH', `${this.base.prefix}*`, 'COUNT', 1000)
          if (keys.length > 0) await this.base.redis.unlink(...keys)
          cursor = next
        } while (cursor !== '0')
        this.dirty = false
        this.base.log.info('cache purged after a Redis outage; cache back on')
      } catch (err) {
        this.base.log.warn({ err }, 'cache purge failed; will retry when Redis is ready again')
      } finally {
        this.purging = undefined
      }
    })()
    return this.purging
  }
}
