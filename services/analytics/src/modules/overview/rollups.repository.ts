import type { PrismaClient } from '../../generated/prisma/client.js'
import type { Granularity } from '../../buckets.js'
import type { RollupMetric } from '../ingest/ingest.repository.js'

export interface RollupRow { metric: RollupMetric, bucket: Date, value: number }

/** Reads the platform rollups (written by the consumer). */
export class RollupsRepository {
  constructor (private readonly prisma: PrismaClient) {}

  async series (
    granularity: Granularity, metrics: readonly RollupMetric[], from: Date, to: Date
  ): Promise<RollupRow[]> {
    const rows = await this.prisma.rollup.findMany({
      where: { granularity, metric: { in: [...metrics] }, bucket: { gte: from, lt: to } },
      select: { metric: true, bucket: true, value: true }
    })
    return rows.map((r) => ({ metric: r.metric as RollupMetric, bucket: r.bucket, value: Number(r.value) }))
  }

  /** The rows of every metric starting with one of `prefixes` (per-currency money metrics). */
  async seriesByPrefix (
    granularity: Granularity, prefixes: readonly string[], from: Date, to: Date
  ): Promise<RollupRow[]> {
    const rows = await this.prisma.rollup.findMany({
      where: { granularity, OR: prefixes.map((p) => ({ metric: { startsWith: p } })), bucket: { gte: from, lt: to } },
      select: { metric: true, bucket: true, value: true }
    })
    return rows.map((r) => ({ metric: r.metric as RollupMetric, bucket: r.bucket, value: Number(r.value) }))
  }

  /** The sum of a metric over every bucket before `before`. */
  async sumBefore (granularity: Granularity, metric: RollupMetric, before: Date): Promise<number> {
    const r = await this.prisma.rollup.aggregate({
      where: { granularity, metric, bucket: { lt: before } },
      _sum: { value: true }
    })
    return Number(r._sum.value ?? 0)
  }

  /** All-time sums of every metric (from the day rollups). */
  async totals (): Promise<Map<RollupMetric, number>> {
    const rows = await this.prisma.rollup.groupBy({
      by: ['metric'], where: { granularity: 'day' }, _sum: { value: true }
    })
    return new Map(rows.map((r) => [r.metric as RollupMetric, Number(r._sum.value ?? 0)]))
  }

  async value (granularity: Granularity, metric: RollupMetric, bucket: Date): Promise<number> {
    const r = await this.prisma.rollup.findUnique({
      where: { granularity_metric_bucket: { granularity, metric, bucket } },
      select: { value: true }
    })
    return Number(r?.value ?? 0)
  }
}
