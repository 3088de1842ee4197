import { bucketStarts } from '../../buckets.js'
import { resolveRange, type RangeQuery } from '../../range.js'
import type { RollupMetric } from '../ingest/ingest.repository.js'
import type { Overview, Point } from './overview.schemas.js'
import type { RollupsRepository } from './rollups.repository.js'

/** Series of the overview and the rollup metric each one reads. */
const ADDITIVE = {
  signups: 'signups',
  logins: 'logins',
  activeUsers: 'active_users',
  cardsCreated: 'cards_created',
  likes: 'likes',
  unlikes: 'unlikes',
  views: 'views',
  uploads: 'uploads',
  payments: 'payments',
  refunds: 'refunds'
} as const satisfies Record<string, RollupMetric>

export class OverviewService {
  constructor (private readonly repo: RollupsRepository, private readonly maxBuckets: number) {}

  async overview (query: RangeQuery, now = new Date()): Promise<Overview> {
    const range = resolveRange(query, this.maxBuckets, now)
    const { granularity } = range
    const metrics: RollupMetric[] = [...Object.values(ADDITIVE), 'bytes_delta']
    const [rows, bytesBefore, money] = await Promise.all([
      this.repo.series(granularity, metrics, range.from, range.to),
      this.repo.sumBefore(granularity, 'bytes_delta', range.from),
      this.repo.seriesByPrefix(granularity, ['revenue:', 'refunded:'], range.from, range.to)
    ])
    const byMetric = new Map<string, Map<number, number>>()
    for (const r of [...rows, ...money]) {
      const m = byMetric.get(r.metric) ?? new Map<number, number>()
      m.set(r.bucket.getTime(), r.value)
      byMetric.set(r.metric, m)
    }
    const starts = bucketStarts(range.from, range.to, granularity)
    const filled = (metric: RollupMetric): Point[] =>
      starts.map((t) => ({ t: t.toISOString(), value: byMetric.get(metric)?.get(t.getTime()) ?? 0 }))
    const currencies = [...new Set(money.map((r) => r.metric.split(':')[1] ?? ''))].sort()
    const revenue = currencies.map((currency) => {
      const gross = filled(`revenue:${currency}`)
      const refunded = filled(`refunded:${currency}`)
      return {
        currency,
        gross,
        refunded,
        net: gross.map((p, i) => ({ t: p.t, value: p.value - (refunded[i]?.value ?? 0) }))
      }
    })
    let stored = bytesBefore
    const bytesStored = filled('bytes_delta').map((p) => ({ t: p.t, value: (stored += p.value) }))
    return {
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      granularity,
      series: {
        signups: filled(ADDITIVE.signups),
        logins: filled(ADDITIVE.logins),
        activeUsers: filled(ADDITIVE.activeUsers),
        cardsCreated: filled(ADDITIVE.cardsCreated),
        likes: filled(ADDITIVE.likes),
        unlikes: filled(ADDITIVE.unlikes),
        views: filled(ADDITIVE.views),
        uploads: filled(ADDITIVE.uploads),
        bytesStored,
        payments: filled(ADDITIVE.payments),
        refunds: filled(ADDITIVE.refunds)
      },
      revenue
    }
  }
}
