// Appends events to the log inside the consumer's transaction (the one that records the event in
// applied_events), so an event is logged once however often it is delivered. Appends are serialised across every
// instance by a transaction-level advisory lock: the last row's hash is read, and the new rows written, by one
// transaction at a time, and the lock goes with its commit or rollback. A transaction takes the lock and reads
// the head once, at its first append; its later appends carry the head on (ChainCursor), one INSERT each.
import type pg from 'pg'
import { preparedQuery, type HoloEvent } from '@holo/events'
import { GENESIS_HASH, entryHash, type ChainedContent } from './audit.chain.js'
import { typeNameOf } from './audit.types.js'

/** First key of the chain's advisory lock ("Audt" in ASCII); the second is hashtext('<schema>.audit_log'). */
export const CHAIN_LOCK_KEY = 0x41756474

export type AppendResult = { appended: true, seq: number, hash: string } | { appended: false }

/**
 * The chain's head as one transaction sees it: unknown until its first append takes the lock and reads it, then
 * moved on by each row the transaction writes (nobody else can append while the lock is held). One per
 * transaction: a cursor outliving its transaction would point at rows another may since have followed.
 */
export interface ChainCursor { head?: { seq: number, hash: string } }

/** RFC 3339 with at most milliseconds, which JavaScript reads exactly as PostgreSQL stores it (timestamptz(3)). */
const MILLISECOND_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})$/

/** The event's time as the log stores it: PostgreSQL rounds finer fractions, so those are rounded by it. */
async function storedTime (tx: pg.PoolClient, time: string): Promise<Date> {
  const exact = MILLISECOND_TIME.test(time) ? new Date(time) : null
  if (exact !== null && !Number.isNaN(exact.getTime())) return exact
  const { rows: [row] } = await preparedQuery<{ time: Date }>(tx, 'SELECT $1::timestamptz(3) AS time', [time])
  if (row === undefined) throw new Error('the time query returned no row')
  return row.time
}

export async function appendEvent (tx: pg.PoolClient, event: HoloEvent, cursor: ChainCursor = {}): Promise<AppendResult> {
  if (cursor.head === undefined) {
    // Its own statement: a read in the same statement would use a snapshot taken before the lock was granted.
    await preparedQuery(tx, 'SELECT pg_advisory_xact_lock($1, hashtext(current_schema() || \'.audit_log\'))', [CHAIN_LOCK_KEY])
    const { rows: [last] } = await preparedQuery<{ seq: string, hash: string }>(tx,
      'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1')
    cursor.head = last === undefined ? { seq: 0, hash: GENESIS_HASH } : { seq: Number(last.seq), hash: last.hash }
  }
  const content: ChainedContent = {
    seq: cursor.head.seq + 1,
    id: event.id.toLowerCase(),
    type: event.type,
    source: event.source,
    subject: event.subject,
    actorId: event.actorid?.toLowerCase() ?? null,
    time: (await storedTime(tx, event.time)).toISOString(),
    requestId: event.requestid ?? null,
    ip: event.clientip ?? null,
    traceparent: event.traceparent ?? null,
    subjectSeq: event.subjectseq ?? null,
    // As jsonb will give it back: JSON values only.
    data: JSON.parse(JSON.stringify(event.data ?? null)) as unknown,
    // Milliseconds, as timestamptz(3) keeps them.
    recordedAt: new Date().toISOString(),
    prevHash: cursor.head.hash
  }
  const hash = entryHash(content)
  // An id logged already (applied_events forgot the event, pruned, and it came back) writes nothing.
  const inserted = await preparedQuery(tx,
    `INSERT INTO audit_log (seq, id, type, type_name, source, subject, actor_id, time, request_id, ip, traceparent,
                            subject_seq, data, recorded_at, prev_hash, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $15, $16)
     ON CONFLICT (id) DO NOTHING`,
    [
      content.seq, content.id, content.type, typeNameOf(content.type), content.source, content.subject,
      content.actorId, content.time, content.requestId, content.ip, content.traceparent, content.subjectSeq,
      JSON.stringify(content.data), content.recordedAt, content.prevHash, hash
    ]
  )
  if (inserted.rowCount === 0) return { appended: false }
  cursor.head = { seq: content.seq, hash }
  return { appended: true, seq: content.seq, hash }
}
