import type { Redis } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import type { Registry } from 'prom-client'
import { GenerationCache, cacheCounter, type CacheCounter, type CacheRead } from '@holo/shared'

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
  /** How long a list page is fresh. */
  listTtlSeconds: number
  /** How long past that an expired page may still be served while one caller refreshes it. */
  listStaleSeconds: number
  /** A page that misses cards added since it was filled is refreshed at most this often. */
  listRefreshMs: number
  metrics: Registry
  log: FastifyBaseLogger
}

export type { CacheRead }

/** What a fill of a list page must carry: the generations read before its query, and when that query started. */
export interface ListStamp { hard: string, soft: string, startedAt: number }

/**
 * A list read: the page if it may be served, whether to refresh it behind the caller, and the stamp of a fill.
 * `behind`: a page current but for cards added since `since` (its fill), so it may be brought up to date by
 * merging those in (`addedSince`) instead of running its query again. Set when the page may not be served
 * as is to this caller (their own write since) or when it is to be refreshed for additions only (`refresh:
 * 'merge'`; `'full'` when it expired).
 */
export interface ListRead {
  page: string | undefined
  refresh: 'none' | 'merge' | 'full'
  /** Undefined when Redis was not reached: never fill blind. */
  stamp: ListStamp | undefined
  behind?: { page: string, since: number, loadedAt: number }
}

/** What decides which listings a card appears in. */
export interface ListedCard {
  id: string
  ownerId: string
  templateId: string | null
  tags: string[]
  rarity: string
  effect: string | undefined
  /** Its searchable text (title, description, tags): which searches its author's reads must see it in. */
  text: string
}

/** The filters of a public listing's first page (the values as the query names them). */
export interface ListFilters {
  ownerId?: string
  templateId?: string
  q?: string
  tag?: string
  rarity?: string
  effect?: string
}

/**
 * The one dimension a page's validity hangs on: its most selective filter.
 * Any card that can appear on the page matches every filter of it, so a write
 * to such a card bumps this dimension's generation. Every search (any `q`,
 * typo-tolerant ones too) hangs on the one `q` dimension.
 */
export function listDimension (f: ListFilters): string {
  if (f.ownerId !== undefined) return `o:${f.ownerId}`
  if (f.templateId !== undefined) return `t:${f.templateId}`
  if (f.q !== undefined) return 'q'
  if (f.tag !== undefined) return `g:${f.tag}`
  if (f.rarity !== undefined) return `r:${f.rarity}`
  if (f.effect !== undefined) return `e:${f.effect}`
  return 'all'
}

const words = (text: string): string[] => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []

/**
 * Where a signed-in reader's own writes are looked for when reading a page of dimension `dim`. A search
 * page is narrower than its dimension: a card it shows has a word starting as its longest word does (the
 * search is a prefix match of every word), so an author is marked per three-letter word start too, and
 * their search for other words is still served from the cache.
 */
export function writerDimension (dim: string, q: string | undefined): string {
  const longest = q === undefined ? undefined : words(q).reduce((a, w) => (w.length > a.length ? w : a), '')
  return dim === 'q' && longest !== undefined && longest.length >= 3 ? `qw:${longest.slice(0, 3)}` : dim
}

/** The writer dimensions of a card: its listings, plus the starts of its words for searches. */
function writerDimensions (c: ListedCard): string[] {
  const starts = new Set(words(c.text).filter((w) => w.length >= 3).map((w) => `qw:${w.slice(0, 3)}`))
  return [...cardDimensions(c), ...[...starts].slice(0, 64)]
}

/** Every dimension whose pages a listed card can appear on. */
export function cardDimensions (c: ListedCard): string[] {
  const dims = ['all', 'q', `o:${c.ownerId}`, `r:${c.rarity}`, ...c.tags.map((t) => `g:${t}`)]
  if (c.templateId !== null) dims.push(`t:${c.templateId}`)
  if (c.effect !== undefined) dims.push(`e:${c.effect}`)
  return dims
}

// INCR and EXPIRE every key in one round trip; the generation outlives any entry stamped with an older one.
// The first ARGV[2] keys are generations (lifetime ARGV[1] s); the next ARGV[5] keys are sets of added cards:
// the ids ARGV[6..] go in scored with the time ARGV[3] (ms), and what is older than ARGV[1] s goes out; any
// further keys mark a writer (value ARGV[3], lifetime ARGV[4]).
const BUMP = `local n = tonumber(ARGV[2])
local m = n + tonumber(ARGV[5])
for i = 1, n do redis.call('INCR', KEYS[i]); redis.call('EXPIRE', KEYS[i], ARGV[1]) end
for i = n + 1, m do
  for j = 6, #ARGV do redis.call('ZADD', KEYS[i], ARGV[3], ARGV[j]) end
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[1]) * 1000)
  redis.call('EXPIRE', KEYS[i], ARGV[1])
end
for i = m + 1, #KEYS do redis.call('SET', KEYS[i], ARGV[3], 'EX', ARGV[4]) end
return #KEYS`

/**
 * How far before a page's fill its additions are looked for: a create's time is taken after its commit and
 * just before its bump, so one committed before a page's query began can be stamped a moment after it.
 */
const ADDED_MARGIN_MS = 5000
/** Past this many additions to merge, a page is loaded again whole (the merge reads each by id). */
export const MAX_MERGED = 1000

/**
 * Redis cache of single cards and first pages of public listings.
 *
 * Staleness is ruled out with generations instead of deletes: each entry is
 * stored with the generation it was read under, a write bumps the generation
 * (per card, or per listing dimension) before it answers, and an entry whose
 * generation is not current is a miss. So a slow reader that filled the cache
 * with what it read before a write can never be served after that write.
 * Lists carry two generations per dimension: a hard one (a card changed or
 * left: the page must not be served) and a soft one (a card was added: the
 * page may be served while it is refreshed). Likes bump neither.
 *
 * Every operation fails soft: with Redis down the service reads PostgreSQL.
 * A bump that failed leaves possibly stale entries behind, so the cache stays
 * off until it has dropped all of its keys after Redis came back.
 */
export class CardCache extends GenerationCache {
  private readonly counters: Record<'card' | 'list', CacheCounter>

  constructor (private readonly o: CardCacheOptions) {
    super({ redis: o.redis, prefix: o.prefix, log: o.log })
    // cache_requests_total{cache="card"|"card_list"}; a read skipped while Redis is down counts as a miss.
    this.counters = { card: cacheCounter(o.metrics, 'card'), list: cacheCounter(o.metrics, 'card_list') }
  }

  // c2: entries carry the ETag stem (c: entries, from before likes left the card row, carried its version).
  private cardKey (id: string): string { return `${this.o.prefix}c2:${id}` }
  private cardGenKey (id: string): string { return `${this.o.prefix}c:${id}:gen` }
  private listKey (key: string): string { return `${this.o.prefix}l:${key}` }

  private listHardKey (dim: string): string { return `${this.o.prefix}lh:${dim}` }
  private listSoftKey (dim: string): string { return `${this.o.prefix}ls:${dim}` }
  private writerKey (userId: string, dim: string): string { return `${this.o.prefix}w:${userId}:${dim}` }
  private addedKey (dim: string): string { return `${this.o.prefix}la:${dim}` }
  private get listLifeSeconds (): number { return this.o.listTtlSeconds + this.o.listStaleSeconds }

  async getCard (id: string): Promise<CacheRead<CachedCard>> {
    const got = await this.read(this.counters.card, this.cardGenKey(id), this.cardKey(id))
    if (got.hit === undefined) return { hit: undefined, generation: got.generation }
    const [tag, visibility, ownerId, hidden, body] = got.hit.split('\n')
    if (body === undefined) return { hit: undefined, generation: got.generation }
    return {
      hit: {
        tag: tag as string,
        visibility: visibility as string,
        ownerId: ownerId as string,
        hidden: hidden === '1',
        body
      },
      generation: got.generation
    }
  }

  async fillCard (id: string, generation: string | undefined, c: CachedCard): Promise<void> {
    const value = [c.tag, c.visibility, c.ownerId, c.hidden ? '1' : '0', c.body].join('\n')
    await this.write(this.cardKey(id), this.cardGenKey(id), generation, value, this.o.cardTtlSeconds)
  }

  /** Call after a write to a card commits and before answering it. */
  async invalidateCard (id: string): Promise<void> {
    await this.bumpGenerations([this.cardGenKey(id)], this.o.cardTtlSeconds)
  }

  /**
   * A first page of a public listing, hanging on dimension `dim`. Served as is
   * while fresh; served and refreshed by one caller when it expired (within the
   * stale window: loaded again whole) or when cards were added to its dimension
   * since it was filled (at most every listRefreshMs: those cards merged in). A
   * missing, outlived or invalidated page is a miss, and so is a page older than
   * the viewer's own last write (read-your-writes), which comes back as `behind`.
   */
  async getList (key: string, dim: string, viewer?: { id: string, dim: string }): Promise<ListRead> {
    const startedAt = Date.now()
    if (!this.usable()) { this.counters.list.miss(); return { page: undefined, refresh: 'none', stamp: undefined } }
    try {
      const keys = [this.listHardKey(dim), this.listSoftKey(dim), this.listKey(key)]
      if (viewer !== undefined) keys.push(this.writerKey(viewer.id, viewer.dim))
      const [hard, soft, value, wrote] = await this.o.redis.mget(...keys)
      const stamp = { hard: hard ?? '0', soft: soft ?? '0', startedAt }
      const entry = value == null ? undefined : parseListEntry(value)
      if (entry === undefined || entry.hard !== stamp.hard) {
        this.counters.list.miss()
        return { page: undefined, refresh: 'none', stamp }
      }
      const expired = startedAt - entry.loadedAt >= this.o.listTtlSeconds * 1000
      const behind = { page: entry.page, since: entry.filledAt, loadedAt: entry.loadedAt }
      if (wrote != null && Number(wrote) >= entry.filledAt) {
        this.counters.list.miss()
        return { page: undefined, refresh: 'none', stamp, behind: expired ? undefined : behind }
      }
      this.counters.list.hit()
      const added = entry.soft !== stamp.soft && startedAt - entry.filledAt >= this.o.listRefreshMs
      const refresh = expired ? 'full' : added ? 'merge' : 'none'
      return { page: entry.page, refresh, stamp, behind }
    } catch (err) {
      this.o.log.warn({ err }, 'cache read failed; reading PostgreSQL')
      this.counters.list.miss()
      return { page: undefined, refresh: 'none', stamp: undefined }
    }
  }

  /**
   * The ids of cards added to dimension `dim` since `since` (and a margin before it), or undefined when
   * Redis does not answer or too many were added (load the page whole then).
   */
  async addedSince (dim: string, since: number): Promise<string[] | undefined> {
    if (!this.usable()) return undefined
    try {
      const ids = await this.o.redis.zrangebyscore(
        this.addedKey(dim), since - ADDED_MARGIN_MS, '+inf', 'LIMIT', 0, MAX_MERGED + 1)
      return ids.length > MAX_MERGED ? undefined : ids
    } catch (err) {
      this.o.log.warn({ err }, 'cache read failed; loading the page whole')
      return undefined
    }
  }

  /**
   * `loadedAt`: when the query last loaded the page whole began (a merge keeps the page's); the page is
   * loaded whole again once that is `LIST_CACHE_TTL_SECONDS` ago, however often additions were merged in.
   */
  async fillList (
    key: string, dim: string, stamp: ListStamp | undefined, page: string, loadedAt = stamp?.startedAt
  ): Promise<void> {
    if (stamp === undefined || !this.usable()) return
    const life = this.listLifeSeconds
    const entry = `${stamp.hard}\n${stamp.soft}\n${stamp.startedAt}\n${loadedAt ?? stamp.startedAt}\n${page}`
    try {
      await this.o.redis.multi()
        .set(this.listKey(key), entry, 'EX', life)
        // The generations must outlive the entry (see bumpLists).
        .expire(this.listHardKey(dim), life * 2)
        .expire(this.listSoftKey(dim), life * 2)
        .exec()
    } catch (err) {
      this.o.log.warn({ err }, 'cache fill failed')
    }
  }

  /**
   * After a write to listed cards commits and before it is answered. `added`:
   * new cards only, so pages of their dimensions stay servable and are
   * refreshed behind their readers, and `writer` (their author) is marked in
   * each of those dimensions: their own reads there skip pages filled before
   * the write. `changed`: cards edited, hidden, deleted or made unlisted, so no
   * page of their dimensions may be served again.
   */
  async bumpLists (cards: ListedCard[], how: 'added' | 'changed', writer?: string): Promise<void> {
    const dims = [...new Set(cards.flatMap(cardDimensions))]
    if (dims.length === 0) return
    const gens = dims.map((d) => how === 'added' ? this.listSoftKey(d) : this.listHardKey(d))
    // What was added is remembered per dimension, so that pages can merge it in rather than query again.
    const addedSets = how === 'added' ? dims.map((d) => this.addedKey(d)) : []
    const ids = how === 'added' ? cards.map((c) => c.id) : []
    const marked = writer === undefined || how !== 'added' ? [] : [...new Set(cards.flatMap(writerDimensions))]
    const writers = marked.map((d) => this.writerKey(writer as string, d))
    const life = this.listLifeSeconds
    await this.bump(async () => {
      await this.o.redis.eval(BUMP, gens.length + addedSets.length + writers.length, ...gens, ...addedSets, ...writers,
        life * 2, gens.length, Date.now(), life, addedSets.length, ...ids)
    })
  }
}

function parseListEntry (value: string): {
  hard: string, soft: string, filledAt: number, loadedAt: number, page: string
} | undefined {
  const fields: string[] = []
  let at = 0
  for (let i = 0; i < 4; i++) {
    const end = value.indexOf('\n', at)
    if (end < 0) return undefined
    fields.push(value.slice(at, end))
    at = end + 1
  }
  const [hard, soft, filledAt, loadedAt] = fields as [string, string, string, string]
  return { hard, soft, filledAt: Number(filledAt), loadedAt: Number(loadedAt), page: value.slice(at) }
}
