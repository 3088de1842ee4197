// The consumer's writes, in the transaction that records the event in applied_events. Every write is an
// increment that commutes or a state update guarded by the subject's sequence, so the outcome never depends
// on the order different subjects' events arrive in. Locks are taken in one order (cards, card_hourly,
// active_users, rollups sorted by key) so two instances never deadlock each other. Each statement is prepared
// once per connection (preparedQuery): planning these small upserts cost as much as running them.
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

  /** Makes sure the card is in the directory, learning its owner when the event names one. */
  async touchCard (cardId: string, ownerId: string | null): Promise<void> {
    await preparedQuery(this.tx,
      `INSERT INTO cards (card_id, owner_id) VALUES ($1, $2)
       ON CONFLICT (card_id) DO UPDATE SET owner_id = COALESCE(cards.owner_id, EXCLUDED.owner_id)
       WHERE cards.owner_id IS NULL AND EXCLUDED.owner_id IS NOT NULL`,
      [cardId, ownerId]
    )
  }

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

  async addCardHour (
    cardId: string, bucket: Date, by: { views?: number, likes?: number, unlikes?: number }
  ): Promise<void> {
    await preparedQuery(this.tx,
      `INSERT INTO card_hourly (card_id, bucket, views, likes, unlikes) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (card_id, bucket) DO UPDATE SET
         views = card_hourly.views + EXCLUDED.views,
         likes = card_hourly.likes + EXCLUDED.likes,
         unlikes = card_hourly.unlikes + EXCLUDED.unlikes`,
      [cardId, bucket, by.views ?? 0, by.likes ?? 0, by.unlikes ?? 0]
    )
  }

  /** Records that the user acted in these buckets; returns the buckets where this is their first act. */
  async markActive (userId: string, buckets: Array<{ granularity: Granularity, bucket: Date }>): Promise<
    Array<{ granularity: Granularity, bucket: Date }>
  > {
    const res = await preparedQuery<{ granularity: Granularity, bucket: Date }>(this.tx,
      `INSERT INTO active_users (granularity, bucket, user_id)
       SELECT g, b, $3 FROM unnest($1::text[], $2::timestamptz[]) AS u(g, b)
       ON CONFLICT DO NOTHING
       RETURNING granularity, bucket`,
      [buckets.map((b) => b.granularity), buckets.map((b) => b.bucket), userId]
    )
    return res.rows
  }

  /** Adds to the rollups; increments of one key are summed first (a statement may touch a row once). */
  async increment (increments: Increment[]): Promise<void> {
    const sums = new Map<string, Increment>()
    for (const i of increments) {
      const key = `${i.granularity}|${i.metric}|${i.bucket.toISOString()}`
      const seen = sums.get(key)
      sums.set(key, seen === undefined ? { ...i } : { ...seen, by: seen.by + i.by })
    }
    const rows = [...sums.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([, i]) => i)
    if (rows.length === 0) return
    await preparedQuery(this.tx,
      `INSERT INTO rollups (granularity, metric, bucket, value)
       SELECT granularity, metric, bucket, value
       FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[]) WITH ORDINALITY
         AS u(granularity, metric, bucket, value, n)
       ORDER BY n
       ON CONFLICT (granularity, metric, bucket) DO UPDATE SET value = rollups.value + EXCLUDED.value`,
      [rows.map((r) => r.granularity), rows.map((r) => r.metric), rows.map((r) => r.bucket), rows.map((r) => r.by)]
    )
  }
}
