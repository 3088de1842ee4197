// UTC hour and day buckets: a bucket is named by its start.
export type Granularity = 'hour' | 'day'

export const STEP_MS: Record<Granularity, number> = { hour: 3_600_000, day: 86_400_000 }

/** The start of the UTC bucket holding `time` (epoch milliseconds are UTC, so days are UTC days). */
export function bucketOf (time: Date | number, granularity: Granularity): Date {
  const ms = typeof time === 'number' ? time : time.getTime()
  const step = STEP_MS[granularity]
  return new Date(Math.floor(ms / step) * step)
}

/** Bucket starts t with bucketOf(from) ≤ t < to. */
export function bucketStarts (from: Date, to: Date, granularity: Granularity): Date[] {
  const out: Date[] = []
  const step = STEP_MS[granularity]
  for (let t = bucketOf(from, granularity).getTime(); t < to.getTime(); t += step) out.push(new Date(t))
  return out
}

/** How many buckets bucketStarts(from, to) holds, without making them. */
export function bucketCount (from: Date, to: Date, granularity: Granularity): number {
  const first = bucketOf(from, granularity).getTime()
  return to.getTime() <= first ? 0 : Math.ceil((to.getTime() - first) / STEP_MS[granularity])
}
