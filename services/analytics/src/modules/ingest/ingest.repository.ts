// The consumer's writes, in the transaction that records the events in applied_events. Every write is an
// increment that commutes or a state update guarded by the subject's sequence, so the outcome never depends
// on the order different subjects' events arrive in. State updates (rare) are written as their event is applied;
// the counting that every like, view and act does is gathered in a Tally and written by one statement before the
// commit (flush), its rows sorted by key so two instances' flushes lock them in one order. Each statement is
// prepared once per connection (preparedQuery): planning these small upserts cost as much as running them.
import type pg from 'pg'
import { preparedQuery } from '@holo/events'
import type { Granularity } from '../../buckets.js'

/** Platform rollup metrics, as stored in rollups.metric. */
export type RollupMetric =
  | 'signups' | 'logins' | 'active_users' | 'cards_created' | 'likes' | 'unlikes' | 'views' | 'uploads'
  | 'bytes_delta' | 'payments' | 'refunds'
  // Money per currency, in minor units: gross received and given back (revenue:eur, refunded:eur).
  | `revenue:${string}` | `refunded:${string}`

export interface Increment { granularity: Granularity, metric: RollupMetric, bucket: Date, by: number }

/** Where a card state update sits among its card's events: subjectseq, with the event time when it has none. */
export interface Version { seq: number | null, time: Date }

export type CardField = 'visibility' | 'hidden'

/** A newer version wins; versions compare by subjectseq when both have one, else by time. */
const newer = (field: CardField): string => `cards.${field}_time IS NULL OR CASE
  WHEN EXCLUDED.${field}_seq IS NOT NULL AND cards.${field}_seq IS NOT NULL
    THEN EXCLUDED.${field}_seq > cards.${field}_seq
  ELSE EXCLUDED.${field}_time >= cards.${field}_time END`

export class IngestRepository {
  constructor (private readonly tx: pg.PoolClient) {}

  /** Sets a state field of a card unless the directory holds a newer version of it. */
  async setCardField (
    cardId: string, ownerId: string | null, field: CardField, value: string | boolean, version: Version,
    createdAt?: Date
  ): Promise<void> {
    await preparedQuery(this.tx,
      `INSERT INTO cards (card_id, owner_id, ${field}, ${field}_seq, ${field}_time, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (card_id) DO UPDATE SET
         owner_id = COALESCE(cards.owner_id, EXCLUDED.owner_id),
         created_at = COALESCE(cards.created_at, EXCLUDED.created_at),
         ${field} = CASE WHEN ${newer(field)} THEN EXCLUDED.${field} ELSE cards.${field} END,
         ${field}_seq = CASE WHEN ${newer(field)} THEN EXCLUDED.${field}_seq ELSE cards.${field}_seq END,
         ${field}_time = CASE WHEN ${newer(field)} THEN EXCLUDED.${field}_time ELSE cards.${field}_time END`,
      [cardId, ownerId, value, version.seq, version.time, createdAt ?? null]
    )
  }

  /** Deleted is final: no later or earlier event brings a card back. */
  async deleteCard (cardId: string, ownerId: string): Promise<void> {
    await preparedQuery(this.tx,
      `INSERT INTO cards (card_id, owner_id, deleted) VALUES ($1, $2, true)
       ON CONFLICT (card_id) DO UPDATE SET deleted = true, owner_id = COALESCE(cards.owner_id, EXCLUDED.owner_id)`,
      [cardId, ownerId]
    )
  }

  /**
   * Writes what a transaction's events counted, in one statement: the cards they name into the directory, their
   * hourly counts, the acts of users in each bucket, and the rollups, with one more active user per bucket where
   * an act was the user's first.
   */
  async flush (t: Tally): Promise<void> {
    if (t.empty) return
    const cards = [...t.cards].sort(([a], [b]) => compare(a, b))
    const hours = [...t.hours.values()].sort((a, b) => compare(a.cardId, b.cardId) || a.bucket.getTime() - b.bucket.getTime())
    const acts = [...t.acts.values()]
    const adds = [...t.increments.values()]
    await preparedQuery(this.tx,
      `WITH touched AS (
         INSERT INTO cards (card_id, owner_id)
         SELECT c, o FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS u(c, o, n) ORDER BY n
         ON CONFLICT (card_id) DO UPDATE SET owner_id = COALESCE(cards.owner_id, EXCLUDED.owner_id)
         WHERE cards.owner_id IS NULL AND EXCLUDED.owner_id IS NOT NULL
       ), hours AS (
         INSERT INTO card_hourly (card_id, bucket, views, likes, unlikes)
         SELECT c, b, v, l, x FROM unnest($3::uuid[], $4::timestamptz[], $5::bigint[], $6::bigint[], $7::bigint[])
           WITH ORDINALITY AS u(c, b, v, l, x, n) ORDER BY n
         ON CONFLICT (card_id, bucket) DO UPDATE SET
           views = card_hourly.views + EXCLUDED.views,
           likes = card_hourly.likes + EXCLUDED.likes,
           unlikes = card_hourly.unlikes + EXCLUDED.unlikes
       ), first_acts AS (
         INSERT INTO active_users (granularity, bucket, user_id)
         SELECT g, b, a FROM unnest($8::text[], $9::timestamptz[], $10::uuid[]) AS u(g, b, a) ORDER BY g, b, a
         ON CONFLICT DO NOTHING
         RETURNING granularity, bucket
       ), added AS (
         SELECT g, m, b, v FROM unnest($11::text[], $12::text[], $13::timestamptz[], $14::bigint[]) AS u(g, m, b, v)
         UNION ALL
         SELECT granularity, 'active_users'::text, bucket, 1::bigint FROM first_acts
       )
       INSERT INTO rollups (granularity, metric, bucket, value)
       SELECT g, m, b, sum(v)::bigint FROM added GROUP BY g, m, b ORDER BY g, m, b
       ON CONFLICT (granularity, metric, bucket) DO UPDATE SET value = rollups.value + EXCLUDED.value`,
      [
        cards.map(([id]) => id), cards.map(([, owner]) => owner),
        hours.map((h) => h.cardId), hours.map((h) => h.bucket), hours.map((h) => h.views), hours.map((h) => h.likes),
        hours.map((h) => h.unlikes),
        acts.map((a) => a.granularity), acts.map((a) => a.bucket), acts.map((a) => a.userId),
        adds.map((i) => i.granularity), adds.map((i) => i.metric), adds.map((i) => i.bucket), adds.map((i) => i.by)
      ]
    )
  }
}

const compare = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0

/**
 * What the events of one transaction count, summed in memory until the flush: the cards they name (with the
 * owner when an event knows it), each card's hour, who acted in which bucket, and the rollup increments.
 */
export class Tally {
  readonly cards = new Map<string, string | null>()
  readonly hours = new Map<string, { cardId: string, bucket: Date, views: number, likes: number, unlikes: number }>()
  readonly acts = new Map<string, { granularity: Granularity, bucket: Date, userId: string }>()
  readonly increments = new Map<string, Increment>()

  get empty (): boolean {
    return this.cards.size + this.hours.size + this.acts.size + this.increments.size === 0
  }

  /** Makes sure the card is in the directory, learning its owner when the event names one. */
  touchCard (cardId: string, ownerId: string | null): void {
    const id = cardId.toLowerCase()
    this.cards.set(id, this.cards.get(id) ?? ownerId?.toLowerCase() ?? null)
  }

  addCardHour (cardId: string, bucket: Date, by: { views?: number, likes?: number, unlikes?: number }): void {
    const id = cardId.toLowerCase()
    const key = `${id}|${bucket.getTime()}`
    const hour = this.hours.get(key) ?? { cardId: id, bucket, views: 0, likes: 0, unlikes: 0 }
    hour.views += by.views ?? 0
    hour.likes += by.likes ?? 0
    hour.unlikes += by.unlikes ?? 0
    this.hours.set(key, hour)
  }

  /** The user acted in these buckets (the flush counts a bucket's active users once, by its first act). */
  markActive (userId: string, buckets: ReadonlyArray<{ granularity: Granularity, bucket: Date }>): void {
    const id = userId.toLowerCase()
    for (const b of buckets) this.acts.set(`${b.granularity}|${b.bucket.getTime()}|${id}`, { ...b, userId: id })
  }

  /** Adds to the rollups (increments of one key are summed). */
  add (increments: readonly Increment[]): void {
    for (const i of increments) {
      const key = `${i.granularity}|${i.metric}|${i.bucket.getTime()}`
      const seen = this.increments.get(key)
      this.increments.set(key, seen === undefined ? { ...i } : { ...seen, by: seen.by + i.by })
    }
  }
}
