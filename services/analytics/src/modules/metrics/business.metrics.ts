// The business metrics on /metrics, read from the rollups at scrape time: every instance reports the same
// figures (the database's), however the events were shared among them.
import { Counter, Gauge, type Registry } from 'prom-client'
import type { FastifyBaseLogger } from 'fastify'
import { bucketOf } from '../../buckets.js'
import type { RollupMetric } from '../ingest/ingest.repository.js'
import type { RollupsRepository } from '../overview/rollups.repository.js'

interface Snapshot { totals: Map<RollupMetric, number>, activeToday: number, activeThisHour: number }

/** Counters: all-time totals of additive rollups. */
const COUNTERS: Array<[name: string, metric: RollupMetric, help: string]> = [
  ['holo_signups_total', 'signups', 'Accounts registered'],
  ['holo_logins_total', 'logins', 'Password logins'],
  ['holo_cards_created_total', 'cards_created', 'Cards created'],
  ['holo_likes_total', 'likes', 'Likes given (taking a like back does not lower it; see holo_unlikes_total)'],
  ['holo_unlikes_total', 'unlikes', 'Likes taken back'],
  ['holo_card_views_total', 'views', 'Card views counted by the card service'],
  ['holo_uploads_total', 'uploads', 'Files uploaded'],
  ['holo_payments_total', 'payments', 'Payments received (templates bought, Holo+ invoices paid)'],
  ['holo_refunds_total', 'refunds', 'Payments refunded']
]

export function businessMetrics (registry: Registry, repo: RollupsRepository, log: FastifyBaseLogger): void {
  if (registry.getSingleMetric('holo_signups_total') !== undefined) return
  let last: Snapshot = { totals: new Map(), activeToday: 0, activeThisHour: 0 }
  let pending: { at: number, value: Promise<Snapshot> } | undefined
  // One read serves every metric of a scrape; while the database is down the last figures are reported.
  const snapshot = async (): Promise<Snapshot> => {
    if (pending === undefined || Date.now() - pending.at > 1000) {
      const now = new Date()
      pending = {
        at: Date.now(),
        value: Promise.all([
          repo.totals(),
          repo.value('day', 'active_users', bucketOf(now, 'day')),
          repo.value('hour', 'active_users', bucketOf(now, 'hour'))
        ]).then(([totals, activeToday, activeThisHour]) => (last = { totals, activeToday, activeThisHour }))
          .catch((err: unknown) => {
            log.warn({ err }, 'business metrics: rollups unavailable, reporting the last figures')
            return last
          })
      }
    }
    return await pending.value
  }
  for (const [name, metric, help] of COUNTERS) {
    // eslint-disable-next-line no-new
    new Counter({
      name,
      help: `${help} (from the analytics rollups)`,
      registers: [registry],
      async collect () {
        const s = await snapshot()
        this.reset()
        this.inc(Math.max(0, s.totals.get(metric) ?? 0))
      }
    })
  }
  const gauges: Array<[name: string, help: string, value: (s: Snapshot) => number]> = [
    ['holo_bytes_stored', 'Bytes of files stored: uploaded sizes minus deleted sizes',
      (s) => s.totals.get('bytes_delta') ?? 0],
    ['holo_active_users_today', 'Distinct users who did anything today (UTC)', (s) => s.activeToday],
    ['holo_active_users_this_hour', 'Distinct users who did anything this hour (UTC)', (s) => s.activeThisHour]
  ]
  for (const [name, help, value] of gauges) {
    // eslint-disable-next-line no-new
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect () { this.set(value(await snapshot())) }
    })
  }
  // Money by currency, in minor units (a counter per currency label).
  const money: Array<[name: string, prefix: string, help: string]> = [
    ['holo_revenue_minor_units_total', 'revenue:', 'Money received, in minor units of `currency`'],
    ['holo_refunded_minor_units_total', 'refunded:', 'Money given back, in minor units of `currency`']
  ]
  for (const [name, prefix, help] of money) {
    // eslint-disable-next-line no-new
    new Counter({
      name,
      help: `${help} (from the analytics rollups)`,
      labelNames: ['currency'],
      registers: [registry],
      async collect () {
        const s = await snapshot()
        this.reset()
        for (const [metric, value] of s.totals) {
          if (metric.startsWith(prefix)) this.inc({ currency: metric.slice(prefix.length) }, Math.max(0, value))
        }
      }
    })
  }
}
