import type autocannon from 'autocannon'
import type { KindSummary } from './report.js'
import { WORDS, multipart, type BenchUser } from './seed.js'
import type { BenchService } from './bench-stack.js'

/** `before`: the card service of the pre-change checkout (--before), directly. */
export type Target = 'direct' | 'gateway' | 'before'
export type Baseline = 'nginx-static' | 'fastify-redis'

export interface BenchData {
  users: BenchUser[]
  /** Fresh refresh tokens, one chain per connection. */
  refreshTokens: string[]
  cardIds: string[]
  hotCardId: string
  fileIds: string[]
  uploads: Buffer[]
  /** An administrator's access token (the bootstrap admin), for the audit and analytics reads. */
  adminToken: string
}

/** What autocannon gets for one run of a scenario. */
export interface ScenarioRun {
  path?: string
  requests?: autocannon.Request[]
  /**
   * A mix's answers by kind of request; reset after the warm-up, so it covers the measured run. The report
   * compares the scenarios that have one (the mixes) with card-get-cached through the gateway.
   */
  tally?: Tally
  /**
   * Draws the next request of a mix (kind and what it sends): the open-loop generator sends these itself, so a
   * scenario at a fixed rate sends the same kinds of requests as its closed-loop twin.
   */
  next?: () => Drawn
}

/** One request of a mix: the kind it was drawn as and what it sends. */
export interface Drawn { kind: string, call: Call }

export interface Scenario {
  name: string
  /** Which service answers it directly (undefined: only the gateway has it). */
  service?: BenchService | 'baseline'
  /** Services whose seeded data it needs besides `service` (the mixes span auth and card, through the gateway). */
  uses?: BenchService[]
  baseline: Baseline
  /**
   * A fixed arrival rate (req/s) instead of a closed loop, sent by the open-loop generator (open-loop.ts) from the
   * run's `next`, not by autocannon: autocannon's overallRate is a quota per connection and second, sent back to
   * back at the start of each second, so its "rate" is a burst every second and its latencies queue behind it.
   */
  rate?: number
  /**
   * Also measured against the card service of the `--before` checkout (the commit before the events were wired),
   * directly, in alternating order, for a before/after ratio from the same run.
   */
  compareBefore?: boolean
  /** autocannon request options for one run. */
  requests: (d: BenchData) => ScenarioRun
}

/** A mix's answers by kind of request (in the order the mix declares them): status codes and latency. */
export class Tally {
  private readonly kinds = new Map<string, { statuses: Record<string, number>, answers: number, totalMs: number }>()
  constructor (private readonly names: string[]) { this.reset() }

  add (kind: string, status: number, ms: number): void {
    let k = this.kinds.get(kind)
    if (k === undefined) this.kinds.set(kind, k = { statuses: {}, answers: 0, totalMs: 0 })
    k.statuses[status] = (k.statuses[status] ?? 0) + 1
    k.answers++
    k.totalMs += ms
  }

  reset (): void {
    this.kinds.clear()
    for (const name of this.names) this.kinds.set(name, { statuses: {}, answers: 0, totalMs: 0 })
  }

  summary (): Record<string, KindSummary> {
    return Object.fromEntries([...this.kinds].map(([kind, k]) => [kind, {
      answers: k.answers,
      avgMs: k.answers === 0 ? 0 : Number((k.totalMs / k.answers).toFixed(2)),
      statuses: { ...k.statuses }
    }]))
  }
}

/** What one request sends; it replaces the method, path, headers and body of autocannon's defaults. */
export type Call = Required<Pick<autocannon.Request, 'method' | 'path' | 'headers'>> & Pick<autocannon.Request, 'body'>

const json = { 'content-type': 'application/json' }
const bearer = (u: BenchUser): Record<string, string> => ({ authorization: `Bearer ${u.accessToken}` })
/** Anonymous when there is no user: autocannon needs a headers object either way. */
const as = (u: BenchUser | undefined): Record<string, string> => u === undefined ? {} : bearer(u)
const pick = <T>(xs: T[], i: number): T => xs[i % xs.length] as T
const RARITIES = ['common', 'uncommon', 'rare', 'epic', 'legendary']

// The requests of the card routes, built once: a single-route scenario and a mix load a route alike.
const cardGet = (id: string, u?: BenchUser): Call => ({ method: 'GET', path: `/api/v1/cards/${id}`, headers: as(u) })
/** A first page of cards; `query` holds the filters (q, tag, rarity, ownerId). */
const cardList = (query: string, u?: BenchUser): Call => ({
  method: 'GET', path: `/api/v1/cards?${query}&limit=20`, headers: as(u)
})
const like = (id: string, u: BenchUser, on: boolean): Call => ({
  method: on ? 'PUT' : 'DELETE', path: `/api/v1/cards/${id}/like`, headers: bearer(u)
})
const cardCreate = (u: BenchUser, i: number): Call => ({
  method: 'POST',
  path: '/api/v1/cards',
  headers: { ...json, ...bearer(u) },
  body: JSON.stringify({
    title: `Bench ${pick(WORDS, i)} ${i}`, description: 'Made under load', rarity: 'rare', tags: ['bench'],
    holo: { effect: 'galaxy', intensity: 0.7 }
  })
})
/** The reads a signed-in user makes besides cards and searches: who am I, my collections, my cards. */
const ownReads: Array<(u: BenchUser) => Call> = [
  (u) => ({ method: 'GET', path: '/api/v1/auth/me', headers: bearer(u) }),
  (u) => ({ method: 'GET', path: '/api/v1/collections?ownerId=me', headers: bearer(u) }),
  (u) => cardList('ownerId=me', u)
]

/** The i-th of a rotation of one- and two-word searches over the seed vocabulary (20 distinct). */
const searchTerms = (i: number): string => `${pick(WORDS, i)}${i % 2 === 0 ? `+${pick(WORDS, i * 7)}` : ''}`

/** One request per cycle, built by `next`. */
function each (next: () => Call): autocannon.Request[] {
  return [{ setupRequest: (req) => ({ ...req, ...next() }) }]
}

function rotating<T> (xs: T[]): () => T {
  let i = 0
  return () => pick(xs, i++)
}

/** First pages of the search rotation; with users, each request signed in (likedByMe). */
function searches (users?: BenchData['users']): ScenarioRun {
  let i = 0
  return {
    requests: each(() => {
      i++
      return cardList(`q=${searchTerms(i)}`, users === undefined ? undefined : pick(users, i))
    })
  }
}

/**
 * Seeded draws (mulberry32), so every run sends the same sequence of requests and runs compare (which connection
 * takes which request still varies).
 */
class Random {
  private state: number
  constructor (seed: number) { this.state = seed >>> 0 }

  /** A number in [0, 1). */
  number (): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  any<T> (xs: T[]): T { return xs[Math.floor(this.number() * xs.length)] as T }
  /**
   * One of `xs` by popularity, the earlier ones the more popular: Zipf (s = 1), drawn by its continuous inverse
   * (rank = n^u). Over 100,000 cards the 100 most popular get 40 % of the draws and the 1,000 most popular 60 %,
   * as views and likes spread over a community's cards.
   */
  popular<T> (xs: T[]): T { return xs[Math.min(xs.length - 1, Math.floor(xs.length ** this.number()) - 1)] as T }
  chance (p: number): boolean { return this.number() < p }
}

/** One kind of request in a mix and its share (weights need not add up to 100). */
interface Share { kind: string, weight: number, call: (random: Random) => Call }
/** autocannon's per-cycle context, as a mix uses it: the kind drawn and when its request went out. */
interface MixContext { kind?: string, sentAt?: number }

/**
 * A weighted mix: every request cycle draws its kind by weight, then the kind draws its card, user and query.
 * autocannon calls setupRequest just before it writes each request and hands the same per-cycle context to
 * onResponse, which is how an answer and its latency are counted under the kind that asked. (A connection's first
 * request is built before the connection opens, so that one latency per connection includes the connect.)
 * The open-loop generator draws from the same `next` and counts into the same tally, so a mix's fixed-rate twin
 * sends the same kinds of requests in the same proportions.
 */
function mix (seed: number, shares: Share[]): ScenarioRun {
  const random = new Random(seed)
  const total = shares.reduce((sum, s) => sum + s.weight, 0)
  const tally = new Tally(shares.map((s) => s.kind))
  const draw = (): Share => {
    let r = random.number() * total
    return shares.find((s) => (r -= s.weight) < 0) ?? (shares[shares.length - 1] as Share)
  }
  const next = (): Drawn => {
    const share = draw()
    return { kind: share.kind, call: share.call(random) }
  }
  return {
    tally,
    next,
    requests: [{
      setupRequest: (req, context) => {
        const { kind, call } = next()
        const cycle: MixContext = context
        cycle.kind = kind
        cycle.sentAt = performance.now()
        return { ...req, ...call }
      },
      onResponse: (status, _body, context) => {
        const cycle: MixContext = context
        tally.add(cycle.kind ?? '?', status, performance.now() - (cycle.sentAt ?? performance.now()))
      }
    }]
  }
}

/**
 * The plan's searches: the rotation's one- and two-word queries, some narrowed to a rarity, and browsing by tag
 * (the seed tags its cards with its own words), some by tag and rarity. 40 distinct first pages.
 */
const planSearches = [
  ...Array.from({ length: 20 }, (_, i) => `q=${searchTerms(i)}`),
  ...RARITIES.map((r, i) => `q=${searchTerms(i)}&rarity=${r}`),
  ...Array.from({ length: 10 }, (_, i) => `tag=${pick(WORDS, i * 2)}`),
  ...RARITIES.map((r, i) => `tag=${pick(WORDS, i * 3)}&rarity=${r}`)
]

/**
 * The plan's mix over every seeded card and user: 70 % card reads, 15 % searches, 8 % likes and unlikes, 4 %
 * creates, 3 % other signed-in reads. Half the reads and searches are signed in (likedByMe spliced in). Cards are
 * read and liked by popularity (Zipf over all seeded cards, see Random.popular), users drawn uniformly. Each
 * scenario has its own seed: with one, the second would replay the cards the first has just brought into the cache.
 */
const planMix = (seed: number) => (d: BenchData): ScenarioRun => {
  const reader = (random: Random): BenchUser | undefined => random.chance(0.5) ? random.any(d.users) : undefined
  let created = 0
  return mix(seed, [
    { kind: 'card-get', weight: 70, call: (random) => cardGet(random.popular(d.cardIds), reader(random)) },
    { kind: 'search', weight: 15, call: (random) => cardList(random.any(planSearches), reader(random)) },
    { kind: 'like', weight: 8, call: (random) => like(random.popular(d.cardIds), random.any(d.users), random.chance(0.5)) },
    { kind: 'create', weight: 4, call: (random) => cardCreate(random.any(d.users), created++) },
    { kind: 'own-reads', weight: 3, call: (random) => random.any(ownReads)(random.any(d.users)) }
  ])
}

/** Where the like scenario goes on from: the pairs of earlier runs of this process are all liked. */
let likeCursor = 0

export const scenarios: Scenario[] = [
  { name: 'baseline-nginx-static', baseline: 'nginx-static', requests: () => ({ path: '/bench/baseline/static' }) },
  { name: 'baseline-fastify-redis', service: 'baseline', baseline: 'fastify-redis', requests: () => ({ path: '/bench/baseline/redis' }) },
  { name: 'gateway-health', baseline: 'nginx-static', requests: () => ({ path: '/health' }) },
  {
    name: 'login',
    service: 'auth',
    baseline: 'fastify-redis',
    requests: (d) => {
      const next = rotating(d.users)
      return {
        requests: each(() => {
          const u = next()
          const body = JSON.stringify({ email: u.email, password: u.password })
          return { method: 'POST', path: '/api/v1/auth/login', headers: json, body }
        })
      }
    }
  },
  {
    name: 'refresh',
    service: 'auth',
    baseline: 'fastify-redis',
    requests: (d) => {
      // autocannon resets its per-connection context every request cycle, so
      // the chains live in one queue: each token is sent once, and its
      // successor (every refresh rotates) goes back in the queue.
      const queue = [...d.refreshTokens]
      return {
        requests: [{
          method: 'POST',
          setupRequest: (req) => {
            const body = JSON.stringify({ refreshToken: queue.shift() })
            return { ...req, path: '/api/v1/auth/refresh', headers: json, body }
          },
          onResponse: (status, body) => {
            if (status === 200) queue.push((JSON.parse(body) as { refreshToken: string }).refreshToken)
          }
        }]
      }
    }
  },
  {
    // The signed-in user's inbox, first page (the seeded users' welcome and like notifications).
    name: 'notification-inbox',
    service: 'notification',
    baseline: 'fastify-redis',
    requests: (d) => {
      const next = rotating(d.users)
      return {
        requests: each(() => ({
          method: 'GET', path: '/api/v1/notifications?limit=20', headers: { authorization: `Bearer ${next().accessToken}` }
        }))
      }
    }
  },
  {
    // The public top list (cached in Redis for ANALYTICS_TOP_CACHE_SECONDS).
    name: 'analytics-top-cards',
    service: 'analytics',
    baseline: 'fastify-redis',
    requests: () => ({ path: '/api/v1/analytics/cards/top?metric=views&window=24h' })
  },
  {
    // An administrator reading the newest audit entries (the keyset index, newest first).
    name: 'audit-events',
    service: 'audit',
    baseline: 'fastify-redis',
    requests: (d) => ({
      requests: [{ method: 'GET', path: '/api/v1/audit/events?limit=20', headers: { authorization: `Bearer ${d.adminToken}` } }]
    })
  },
  {
    // Anonymous reads of one card: each is counted as a view (in memory, written to the outbox every few seconds).
    name: 'card-get-cached',
    service: 'card',
    baseline: 'fastify-redis',
    compareBefore: true,
    requests: (d) => ({ path: `/api/v1/cards/${d.hotCardId}` })
  },
  {
    name: 'card-get-uncached',
    service: 'card',
    baseline: 'fastify-redis',
    requests: (d) => {
      const next = rotating(d.cardIds)
      return { requests: each(() => cardGet(next())) }
    }
  },
  { name: 'card-search', service: 'card', baseline: 'fastify-redis', requests: () => searches() },
  { name: 'card-search-signed-in', service: 'card', baseline: 'fastify-redis', requests: (d) => searches(d.users) },
  {
    name: 'card-create',
    service: 'card',
    baseline: 'fastify-redis',
    compareBefore: true,
    requests: (d) => {
      let i = 0
      return { requests: each(() => { const u = pick(d.users, i); return cardCreate(u, i++) }) }
    }
  },
  {
    name: 'like',
    service: 'card',
    baseline: 'fastify-redis',
    compareBefore: true,
    // A like that is already there changes nothing and publishes nothing: every run (each target, each round)
    // goes on with (user, card) pairs no earlier run liked, so every measured like inserts a row, bumps the
    // count and, with the outbox, writes its event.
    requests: (d) => ({
      requests: each(() => {
        const i = likeCursor++
        const n = d.cardIds.length
        return like(pick(d.cardIds, i), pick(d.users, i + Math.floor(i / n)), true)
      })
    })
  },
  {
    name: 'file-upload-100k',
    service: 'file',
    baseline: 'fastify-redis',
    requests: (d) => {
      const bodies = d.uploads.map((img, i) => multipart(img, `bench-${i}.png`, 'image/png'))
      let i = 0
      return {
        requests: each(() => {
          const b = pick(bodies, i)
          const u = pick(d.users, i++)
          const headers = { ...bearer(u), 'content-type': b.contentType }
          return { method: 'POST', path: '/api/v1/files', headers, body: b.body }
        })
      }
    }
  },
  {
    name: 'file-content-get',
    service: 'file',
    baseline: 'fastify-redis',
    requests: (d) => {
      const next = rotating(d.fileIds)
      return { requests: each(() => ({ method: 'GET', path: `/api/v1/files/${next()}/content`, headers: {} })) }
    }
  },
  // The mixes span the auth and card services, and autocannon sends all of a run's requests to one host and port:
  // they run through the gateway only, as clients see the service.
  { name: 'mix-plan', uses: ['auth', 'card'], baseline: 'fastify-redis', requests: planMix(1) },
  {
    // The same mix at a fixed arrival rate below saturation, evenly spaced (open loop): the latency a community
    // sees on a normal day.
    name: 'mix-plan-rate',
    uses: ['auth', 'card'],
    baseline: 'fastify-redis',
    rate: 1000,
    requests: planMix(2)
  },
  {
    // The issue's measurement: a hot set of 100 cards read anonymously while their likes change, so the likes
    // keep invalidating what the reads are served from.
    name: 'mix-77-15-8',
    uses: ['auth', 'card'],
    baseline: 'fastify-redis',
    requests: (d) => {
      const hot = d.cardIds.slice(0, 100)
      const words = WORDS.slice(0, 8)
      return mix(3, [
        { kind: 'card-get', weight: 77, call: (random) => cardGet(random.any(hot)) },
        { kind: 'search', weight: 15, call: (random) => cardList(`q=${random.any(words)}`) },
        { kind: 'like', weight: 8, call: (random) => like(random.any(hot), random.any(d.users), random.chance(0.5)) }
      ])
    }
  }
]
