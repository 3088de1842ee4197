// Turning a series request's from/to/granularity into a bounded list of buckets.
import { isStorableTime } from '@holo/shared'
import { bucketCount, bucketOf, STEP_MS, type Granularity } from './buckets.js'
import { errors } from './errors.js'

export interface RangeQuery { from?: string, to?: string, granularity?: Granularity }

export interface Range {
  granularity: Granularity
  /** Start of the first bucket. */
  from: Date
  /** End of the last bucket (exclusive). */
  to: Date
  buckets: number
}

/** Buckets shown when the request gives no `from`: 30 days by day, 48 hours by hour. */
export const DEFAULT_BUCKETS: Record<Granularity, number> = { day: 30, hour: 48 }

/**
 * The buckets from the one holding `from` to the one holding the instant before `to` (`to` is exclusive).
 * Without `to`: now. Without `from`: the default number of buckets ending with the one of `to`.
 */
export function resolveRange (
  q: RangeQuery, maxBuckets: number, now = new Date(), defaultGranularity: Granularity = 'day'
): Range {
  const granularity = q.granularity ?? defaultGranularity
  const step = STEP_MS[granularity]
  const to = q.to === undefined ? now : new Date(q.to)
  const from = q.from === undefined
    ? new Date(bucketOf(to.getTime() - 1, granularity).getTime() - (DEFAULT_BUCKETS[granularity] - 1) * step)
    : new Date(q.from)
  if (!isStorableTime(to)) throw errors.VALIDATION_FAILED('to', 'querystring', 'must be a date-time in years 1 to 9999')
  if (!isStorableTime(from)) {
    throw errors.VALIDATION_FAILED('from', 'querystring', 'must be a date-time in years 1 to 9999')
  }
  if (from.getTime() >= to.getTime()) {
    throw errors.VALIDATION_FAILED('from', 'querystring', 'must be earlier than to')
  }
  const buckets = bucketCount(from, to, granularity)
  if (buckets > maxBuckets) throw errors.RANGE_TOO_LARGE(buckets, granularity, maxBuckets)
  const first = bucketOf(from, granularity)
  return { granularity, from: first, to: new Date(first.getTime() + buckets * step), buckets }
}
