// Administrators' views of money: revenue from the ledger by bucket and currency.
import { errors } from '../../errors.js'
import type { PaymentsRepository } from '../payments/payments.repository.js'
import type { Revenue, RevenueQuery } from './admin.schemas.js'

const BUCKET_MS = { hour: 3_600_000, day: 86_400_000, month: 31 * 86_400_000 } as const
const MAX_BUCKETS = 2000

export class AdminService {
  constructor (private readonly repo: PaymentsRepository) {}

  async revenue (q: RevenueQuery): Promise<Revenue> {
    const granularity = q.granularity ?? 'day'
    const to = q.to === undefined ? new Date() : new Date(q.to)
    const from = q.from === undefined ? new Date(to.getTime() - 30 * 86_400_000) : new Date(q.from)
    if (from.getTime() >= to.getTime()) throw errors.VALIDATION_FAILED('from', 'querystring', 'must be before to')
    if ((to.getTime() - from.getTime()) / BUCKET_MS[granularity] > MAX_BUCKETS) {
      throw errors.VALIDATION_FAILED('from', 'querystring', `spans more than ${MAX_BUCKETS} ${granularity} buckets`)
    }
    const points = await this.repo.revenue(from, to, granularity)
    const totals = new Map<string, Omit<Revenue['totals'][number], never>>()
    for (const p of points) {
      const t = totals.get(p.currency) ?? {
        currency: p.currency, payments: 0, refunds: 0, gross: 0, refunded: 0, stripeFees: 0, platform: 0, authors: 0
      }
      for (const k of ['payments', 'refunds', 'gross', 'refunded', 'stripeFees', 'platform', 'authors'] as const) t[k] += p[k]
      totals.set(p.currency, t)
    }
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      granularity,
      series: points.map((p) => ({ ...p, t: p.t.toISOString() })),
      totals: [...totals.values()]
    }
  }
}
