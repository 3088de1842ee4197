// The hottest reads of the inbox, first pages and the unread count, as served JSON in Redis. Each user has
// one generation; every committed change of their inbox bumps it (the publisher, before the change is
// announced or answered), so a page read before a change is never served after it, on any instance.
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { Registry } from 'prom-client'
import { GenerationCache, cacheCounter, type CacheCounter, type CacheRead } from '@holo/shared'

export interface InboxCacheOptions {
  redis: Redis
  prefix: string
  /** Lifetime of an entry; 0 turns the cache off. */
  ttlSeconds: number
  metrics: Registry
  log: FastifyBaseLogger
}

/** Which read an entry answers: a first page (unread only or not, and its size), or the unread count. */
export type InboxView = { page: { unread: boolean, limit: number } } | 'unread-count'

const viewKey = (v: InboxView): string => v === 'unread-count' ? 'n' : `p:${v.page.unread ? 1 : 0}:${v.page.limit}`

export class InboxCache extends GenerationCache {
  private readonly counter: CacheCounter

  constructor (private readonly o: InboxCacheOptions) {
    super({ redis: o.redis, prefix: o.prefix, log: o.log })
    // cache_requests_total{cache="notification_inbox"}
    this.counter = cacheCounter(o.metrics, 'notification_inbox')
  }

  private genKey (userId: string): string { return `${this.o.prefix}g:${userId}` }
  private key (userId: string, view: InboxView): string { return `${this.o.prefix}e:${userId}:${viewKey(view)}` }

  get enabled (): boolean { return this.o.ttlSeconds > 0 }

  async get (userId: string, view: InboxView): Promise<CacheRead<string>> {
    if (!this.enabled) return { hit: undefined, generation: undefined }
    return await this.read(this.counter, this.genKey(userId), this.key(userId, view))
  }

  async fill (userId: string, view: InboxView, generation: string | undefined, json: string): Promise<void> {
    if (!this.enabled) return
    await this.write(this.key(userId, view), this.genKey(userId), generation, json, this.o.ttlSeconds)
  }

  /** After a change of these users' inboxes committed, before it is answered or announced. */
  async invalidate (userIds: Iterable<string>): Promise<void> {
    if (!this.enabled) return
    await this.bumpGenerations([...new Set(userIds)].map((u) => this.genKey(u)), this.o.ttlSeconds)
  }
}
