import { can, type AuthUser } from '@holo/shared'
import { bucketOf, bucketStarts, STEP_MS } from '../../buckets.js'
import { errors } from '../../errors.js'
import { resolveRange, type RangeQuery } from '../../range.js'
import type { Point } from '../overview/overview.schemas.js'
import type { TopCache } from './cards.cache.js'
import type { CardsRepository } from './cards.repository.js'
import type { CardStats, TopList, TopMetric, TopWindow } from './cards.schemas.js'

/** Whole UTC hours of each window, the current one included. */
export const WINDOW_HOURS: Record<TopWindow, number> = { '24h': 24, '7d': 7 * 24, '30d': 30 * 24 }

export class CardStatsService {
  constructor (
    private readonly repo: CardsRepository,
    private readonly cache: TopCache,
    private readonly maxBuckets: number
  ) {}

  /**
   * The most viewed or liked cards of a window. Administrators rank every card; everyone else only cards known
   * to be public, not hidden and not deleted.
   */
  async top (
    q: { metric: TopMetric, window: TopWindow, limit: number }, viewer: AuthUser | null, now = new Date()
  ): Promise<TopList> {
    const all = can(viewer, 'analytics.read')
    const since = new Date(bucketOf(now, 'hour').getTime() - (WINDOW_HOURS[q.window] - 1) * STEP_MS.hour)
    const key = `${all ? 'all' : 'listed'}:${q.metric}:${q.window}:${q.limit}`
    return await this.cache.getOrCompute(key, async () => ({
      items: await this.repo.top(q.metric, since, q.limit, !all)
    }))
  }

  /** A card's views and net likes per bucket, for its owner or an administrator (404 for anyone else). */
  async stats (cardId: string, query: RangeQuery, caller: AuthUser, now = new Date()): Promise<CardStats> {
    const card = await this.repo.find(cardId)
    const admin = can(caller, 'analytics.read')
    if (card === null || (!admin && (card.ownerId !== caller.id || card.deleted))) throw errors.CARD_NOT_FOUND()
    const range = resolveRange(query, this.maxBuckets, now)
    const views = new Map<number, number>()
    const likes = new Map<number, number>()
    for (const h of await this.repo.hours(cardId, range.from, range.to)) {
      const t = bucketOf(h.bucket, range.granularity).getTime()
      views.set(t, (views.get(t) ?? 0) + h.views)
      likes.set(t, (likes.get(t) ?? 0) + h.likes - h.unlikes)
    }
    const starts = bucketStarts(range.from, range.to, range.granularity)
    const series = (m: Map<number, number>): Point[] =>
      starts.map((t) => ({ t: t.toISOString(), value: m.get(t.getTime()) ?? 0 }))
    const sum = (m: Map<number, number>): number => [...m.values()].reduce((a, b) => a + b, 0)
    return {
      cardId,
      totals: { views: sum(views), likes: sum(likes) },
      views: series(views),
      likes: series(likes)
    }
  }
}
