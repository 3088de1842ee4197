// Appends events to the log inside the consumer's transaction (the one that records the event in
// applied_events), so an event is logged once however often it is delivered. A transaction's events are gathered
// as it applies them (a ChainBatch) and chained and written together just before its commit: the chain's lock,
// then one statement reading the head and which of the ids are logged already, then one INSERT of every row.
// Appends are serialised across every instance by that transaction-level advisory lock: the head is read, and
// the new rows written, by one transaction at a time, and the lock goes with its commit or rollback.
import type pg from 'pg'
import { preparedQuery, type HoloEvent } from '@holo/events'
import { GENESIS_HASH, entryHash, type ChainedContent } from './audit.chain.js'
import { typeNameOf } from './audit.types.js'

/** First key of the chain's advisory lock ("Audt" in ASCII); the second is hashtext('<schema>.audit_log'). */
export const CHAIN_LOCK_KEY = 0x41756474

/** A row as gathered: everything but its place in the chain. */
type Staged = Omit<ChainedContent, 'seq' | 'prevHash'>

/** What a flush wrote: the rows appended (in chain order) and the ids skipped as logged already. */
export interface Appended { rows: Array<{ id: string, seq: number, hash: string }>, skipped: string[] }

/** RFC 3339 with at most milliseconds, which JavaScript reads exactly as PostgreSQL stores it (timestamptz(3)). */
const MILLISECOND_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})$/

/** The event's time as the log stores it: PostgreSQL rounds finer fractions, so those are rounded by it. */
async function storedTime (tx: pg.ClientBase, time: string): Promise<Date> {
  const exact = MILLISECOND_TIME.test(time) ? new Date(time) : null
  if (exact !== null && !Number.isNaN(exact.getTime())) return exact
  const { rows: [row] } = await preparedQuery<{ time: Date }>(tx, 'SELECT $1::timestamptz(3) AS time', [time])
  if (row === undefined) throw new Error('the time query returned no row')
  return row.time
}

const LOCK = 'SELECT pg_advisory_xact_lock($1, hashtext(current_schema() || \'.audit_log\'))'

/** Its own statement after the lock: a read in the lock's statement would use a snapshot taken before the grant. */
const HEAD_AND_LOGGED = `SELECT h.seq, h.hash, ARRAY(SELECT id::text FROM audit_log WHERE id = ANY($1::uuid[])) AS logged
  FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1) h ON true`

const INSERT_ROWS = `INSERT INTO audit_log (seq, id, type, type_name, source, subject, actor_id, time, request_id, ip,
                        traceparent, subject_seq, data, recorded_at, prev_hash, hash)
  SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[],
                       $8::timestamptz[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::jsonb[],
                       $14::timestamptz[], $15::text[], $16::text[])`

/**
 * One transaction's appends. `add` gathers an event (its row without a place in the chain); `flush`, in the same
 * transaction before its commit, chains and writes them all. An id logged already (applied_events forgot the
 * event, pruned, and it came back) is skipped, and the rows after it chain on without a gap. One per transaction:
 * what it gathered belongs to that transaction and goes with its rollback.
 */
export class ChainBatch {
  private staged: Staged[] = []

  async add (tx: pg.ClientBase, event: HoloEvent): Promise<void> {
    this.staged.push({
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
      recordedAt: new Date().toISOString()
    })
  }

  async flush (tx: pg.ClientBase): Promise<Appended> {
    const staged = this.staged
    this.staged = []
    if (staged.length === 0) return { rows: [], skipped: [] }
    await preparedQuery(tx, LOCK, [CHAIN_LOCK_KEY])
    const { rows: [found] } = await preparedQuery<{ seq: string | null, hash: string | null, logged: string[] }>(
      tx, HEAD_AND_LOGGED, [staged.map((s) => s.id)])
    if (found === undefined) throw new Error('the chain head query returned no row')
    const logged = new Set(found.logged)
    let head = found.seq === null || found.hash === null
      ? { seq: 0, hash: GENESIS_HASH }
      : { seq: Number(found.seq), hash: found.hash }
    const rows: Array<ChainedContent & { hash: string }> = []
    const skipped: string[] = []
    for (const s of staged) {
      if (logged.has(s.id)) {
        skipped.push(s.id)
        continue
      }
      const content: ChainedContent = { ...s, seq: head.seq + 1, prevHash: head.hash }
      head = { seq: content.seq, hash: entryHash(content) }
      rows.push({ ...content, hash: head.hash })
    }
    if (rows.length > 0) {
      const column = <K extends keyof (ChainedContent & { hash: string })>(k: K) => rows.map((r) => r[k])
      await preparedQuery(tx, INSERT_ROWS, [
        column('seq'), column('id'), column('type'), rows.map((r) => typeNameOf(r.type)), column('source'),
        column('subject'), column('actorId'), column('time'), column('requestId'), column('ip'),
        column('traceparent'), column('subjectSeq'), rows.map((r) => JSON.stringify(r.data)), column('recordedAt'),
        column('prevHash'), column('hash')
      ])
    }
    return { rows: rows.map((r) => ({ id: r.id, seq: r.seq, hash: r.hash })), skipped }
  }
}
