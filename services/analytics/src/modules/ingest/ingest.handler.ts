// What each event does to the read models. Pure rules over an IngestRepository, run by the consumer in the
// transaction that records the event (effect once).
import { catalogue, type EventType, type HoloEvent } from '@holo/events'
import { bucketOf, type Granularity } from '../../buckets.js'
import type { Increment, IngestRepository, RollupMetric, Tally, Version } from './ingest.repository.js'

/**
 * The types the consumer reads: every type with an actor (any act makes its actor active that day), the
 * view counts and payments. Others are acknowledged unread.
 */
export const INGESTED_TYPES: readonly EventType[] = (Object.keys(catalogue) as EventType[])
  .filter((type) => catalogue[type].actor !== 'none' || type === 'holo.card.views_counted.v1' ||
    type === 'holo.payment.succeeded.v1' || type === 'holo.payment.refunded.v1')

const GRANULARITIES: readonly Granularity[] = ['hour', 'day']

/** The metric in both granularities for one moment. */
const both = (metric: RollupMetric, at: Date, by = 1): Increment[] =>
  GRANULARITIES.map((granularity) => ({ granularity, metric, bucket: bucketOf(at, granularity), by }))

const versionOf = (event: HoloEvent): Version => ({ seq: event.subjectseq ?? null, time: new Date(event.time) })

/** Applies one event: state updates through `repo` at once, its counting into the transaction's `tally`. */
export async function applyEvent (event: HoloEvent, repo: IngestRepository, tally: Tally): Promise<void> {
  const at = new Date(event.time)
  const increments: Increment[] = []
  switch (event.type) {
    case 'holo.user.registered.v1':
      increments.push(...both('signups', at))
      break
    case 'holo.user.logged_in.v1':
      increments.push(...both('logins', at))
      break
    case 'holo.card.created.v1':
      await repo.setCardField(event.subject, event.data.ownerId, 'visibility', event.data.visibility,
        versionOf(event), at)
      increments.push(...both('cards_created', at))
      break
    case 'holo.card.visibility_changed.v1':
      await repo.setCardField(event.subject, event.data.ownerId, 'visibility', event.data.visibility,
        versionOf(event))
      break
    case 'holo.card.hidden.v1':
    case 'holo.card.unhidden.v1':
      await repo.setCardField(event.subject, event.data.ownerId, 'hidden', event.type === 'holo.card.hidden.v1',
        versionOf(event))
      break
    case 'holo.card.deleted.v1':
      await repo.deleteCard(event.subject, event.data.ownerId)
      break
    case 'holo.card.updated.v1':
      tally.touchCard(event.subject, event.data.ownerId)
      break
    case 'holo.card.liked.v1':
      tally.touchCard(event.subject, event.data.ownerId)
      tally.addCardHour(event.subject, bucketOf(at, 'hour'), { likes: 1 })
      increments.push(...both('likes', at))
      break
    case 'holo.card.unliked.v1':
      tally.touchCard(event.subject, event.data.ownerId)
      tally.addCardHour(event.subject, bucketOf(at, 'hour'), { unlikes: 1 })
      increments.push(...both('unlikes', at))
      break
    case 'holo.card.views_counted.v1': {
      // Counted in the bucket where the counting window ended.
      const to = new Date(event.data.to)
      tally.touchCard(event.subject, null)
      tally.addCardHour(event.subject, bucketOf(to, 'hour'), { views: event.data.views })
      increments.push(...both('views', to, event.data.views))
      break
    }
    case 'holo.file.uploaded.v1':
      increments.push(...both('uploads', at), ...both('bytes_delta', at, event.data.size))
      break
    case 'holo.file.deleted.v1':
      increments.push(...both('bytes_delta', at, -event.data.size))
      break
    // Revenue: what billing received and gave back, per currency, in minor units (billing's ledger has the split).
    case 'holo.payment.succeeded.v1':
      increments.push(...both('payments', at), ...both(`revenue:${event.data.currency}`, at, event.data.amount))
      break
    case 'holo.payment.refunded.v1':
      increments.push(...both('refunds', at), ...both(`refunded:${event.data.currency}`, at, event.data.amount))
      break
    default:
      break
  }
  if (event.actorid !== undefined) {
    tally.markActive(event.actorid, GRANULARITIES.map((granularity) => ({ granularity, bucket: bucketOf(at, granularity) })))
  }
  tally.add(increments)
}
