import type { Redis } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import type { Registry } from 'prom-client'
import { cacheCounter, type CacheCounter } from '@holo/shared'

/** What a cached card carries besides its body: enough to decide who may read it. */
export interface CachedCard {
  /** The stem of its ETag (version and like count). */
  tag: string
  visibility: string
  ownerId: string
  hidden: boolean
  /** The card's JSON as served to a caller without likedByMe. */
  body: string
}

export interface CardCacheOptions {
  redis: Redis
  prefix: string
  cardTtlSeconds: number
  listTtlSeconds: number
  metrics: Registry
  log: FastifyBaseLogger
}

/** A read: the entry if present and current, plus the generation a later fill must carry. */
export interface CacheRead<T> { hit: T | undefined, generation: string | undefined }

/**
 * Redis cache of single cards and first pages of public listings.
 *
 * Staleness is ruled out with generations instead of deletes: each entry is
 * stored with the generation it was read under, a write bumps the generation
 * (per card, or one for all lists) before it answers, and an entry whose
 * generation is not current is a miss. So a slow reader that filled the cache
 * with what it read before a write can never be served after that write.
 *
 * Every operation fails soft: with Redis down the service reads PostgreSQL.
 * A bump that failed leaves possibly stale entries behind, so the cache stays
 * off until it has dropped all of its keys after Redis came back.
 */
export class CardCache {
  private dirty = false
  private purging: Promise<void> | undefined
  private readonly counters: Record<'card' | 'list', CacheCounter>
  private readonly listGenKey: string

  constructor (private readonly o: CardCacheOptions) {
    this.listGenKey = `${o.prefix}lists:gen`
    // cache_requests_total{cache="card"|"card_list"}; a read skipped while Redis is down counts as a miss.
    this.counters = { card: cacheCounter(o.metrics, 'card'), list: cacheCounter(o.metrics, 'card_list') }
    o.redis.on('ready', () => { if (this.dirty) void this.purge() })
  }

  // c2: entries carry the ETag stem (c: entries, from before likes left the card row, carried its version).
  private cardKey (id: string): string { return `${this.o.prefix}c2:${id}` }
  private cardGenKey (id: string): string { return `${this.o.prefix}c:${id}:gen` }
  private listKey (key: string): string { return `${this.o.prefix}l:${key}` }

  private usable (): boolean { return !this.dirty && this.o.redis.status === 'ready' }

  async getCard (id: string): Promise<CacheRead<CachedCard>> {
    const got = await this.read('card', this.cardGenKey(id), this.cardKey(id))
    if (got.hit === undefined) return { hit: undefined, generation: got.generation }
    const [tag, visibility, ownerId, hidden, body] = got.hit.split('\n')
    if (body === undefined) return { hit: undefined, generation: got.generation }
    return { hit: { tag: tag as string, visibility: visibility as string, ownerId: ownerId as string, hidden: hidden === '1', body }, generation: got.generation }
  }

  async fillCard (id: string, generation: string | undefined, c: CachedCard): Promise<void> {
    const value = [c.tag, c.visibility, c.ownerId, c.hidden ? '1' : '0', c.body].join('\n')
    await this.write(this.cardKey(id), generation, value, this.o.cardTtlSeconds)
  }

  /** Call after a write to a card commits and before answering it. */
  async invalidateCard (id: string): Promise<void> {
    await this.bump(async () => {
      // The generation outlives any entry stamped with an older one (see class comment).
      await this.o.redis.multi().incr(this.cardGenKey(id)).expire(this.cardGenKey(id), this.o.cardTtlSeconds * 2).exec()
    })
  }

  async getList (key: string): Promise<CacheRead<string>> {
    return await this.read('list', this.listGenKey, this.listKey(key))
  }

  async fillList (key: string, generation: string | undefined, body: string): Promise<void> {
    await this.write(this.listKey(key), generation, body, this.o.listTtlSeconds)
  }

  /** Any write that changes what a public listing shows. */
  async invalidateLists (): Promise<void> {
    await this.bump(async () => { await this.o.redis.incr(this.listGenKey) })
  }

  private async read (kind: 'card' | 'list', genKey: string, key: string): Promise<CacheRead<string>> {
    if (!this.usable()) { this.counters[kind].miss(); return { hit: undefined, generation: undefined } }
    try {
      const [gen, value] = await this.o.redis.mget(genKey, key)
      const generation = gen ?? '0'
      if (value != null) {
        const nl = value.indexOf('\n')
        if (value.slice(0, nl) === generation) {
          this.counters[kind].hit()
          return { hit: value.slice(nl + 1), generation }
        }
      }
      this.counters[kind].miss()
      return { hit: undefined, generation }
    } catch (err) {
      this.o.log.warn({ err }, 'cache read failed; reading PostgreSQL')
      this.counters[kind].miss()
      return { hit: undefined, generation: undefined }
    }
  }

  private async write (key: string, generation: string | undefined, value: string, ttlSeconds: number): Promise<void> {
    // No generation means the read did not reach Redis: never fill blind.
    if (generation === undefined || !this.usable()) return
    try {
      await this.o.redis.set(key, `${generation}\n${value}`, 'EX', ttlSeconds)
    } catch (err) {
      this.o.log.warn({ err }, 'cache fill failed')
    }
  }

  private async bump (fn: () => Promise<void>): Promise<void> {
    if (this.o.redis.status === 'ready') {
      try { await fn(); return } catch (err) { this.o.log.warn({ err }, 'cache invalidation failed; cache off until purged') }
    }
    this.dirty = true
  }

  /** Drops every key of this prefix, then turns the cache back on. */
  purge (): Promise<void> {
    this.purging ??= (async () => {
      try {
        let cursor = '0'
        do {
          const [next, keys] = await this.o.redis.scan(cursor, 'MATCH', `${this.o.prefix}*`, 'COUNT', 1000)
          if (keys.length > 0) await this.o.redis.unlink(...keys)
          cursor = next
        } while (cursor !== '0')
        this.dirty = false
        this.o.log.info('cache purged after a Redis outage; cache back on')
      } catch (err) {
        this.o.log.warn({ err }, 'cache purge failed; will retry when Redis is ready again')
      } finally {
        this.purging = undefined
      }
    })()
    return this.purging
  }
}
