// Appends events to the log inside the consumer's transaction (the one that records the event in
// applied_events), so an event is logged once however often it is delivered. Appends are serialised across every
// instance by a transaction-level advisory lock: the last row's hash is read, and the new row written, by one
// transaction at a time, and the lock goes with its commit or rollback.
import type pg from 'pg'
import { preparedQuery, type HoloEvent } from '@holo/events'
import { GENESIS_HASH, entryHash, type ChainedContent } from './audit.chain.js'
import { typeNameOf } from './audit.types.js'

/** First key of the chain's advisory lock ("Audt" in ASCII); the second is hashtext('<schema>.audit_log'). */
export const CHAIN_LOCK_KEY = 0x41756474

export type AppendResult = { appended: true, seq: number, hash: string } | { appended: false }

interface HeadRow { seq: string | null, hash: string | null, logged: boolean, time: Date, recorded_at: Date }

export async function appendEvent (tx: pg.PoolClient, event: HoloEvent): Promise<AppendResult> {
  // Its own statement: a read in the same statement would use a snapshot taken before the lock was granted.
  await preparedQuery(tx, 'SELECT pg_advisory_xact_lock($1, hashtext(current_schema() || \'.audit_log\'))', [CHAIN_LOCK_KEY])
  // PostgreSQL reads the time as it will store it (timestamptz(3) rounds), so the hash covers the stored value.
  const { rows: [head] } = await preparedQuery<HeadRow>(tx,
    `SELECT last.seq, last.hash, EXISTS (SELECT 1 FROM audit_log WHERE id = $1) AS logged,
            $2::timestamptz(3) AS time, clock_timestamp()::timestamptz(3) AS recorded_at
       FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1) AS last ON true`,
    [event.id, event.time]
  )
  if (head === undefined) throw new Error('the chain head query returned no row')
  // Only when applied_events forgot the event (pruned) and it came back: logged already, nothing to do.
  if (head.logged) return { appended: false }
  const content: ChainedContent = {
    seq: head.seq === null ? 1 : Number(head.seq) + 1,
    id: event.id.toLowerCase(),
    type: event.type,
    source: event.source,
    subject: event.subject,
    actorId: event.actorid?.toLowerCase() ?? null,
    time: head.time.toISOString(),
    requestId: event.requestid ?? null,
    ip: event.clientip ?? null,
    traceparent: event.traceparent ?? null,
    subjectSeq: event.subjectseq ?? null,
    // As jsonb will give it back: JSON values only.
    data: JSON.parse(JSON.stringify(event.data ?? null)) as unknown,
    recordedAt: head.recorded_at.toISOString(),
    prevHash: head.hash ?? GENESIS_HASH
  }
  const hash = entryHash(content)
  await preparedQuery(tx,
    `INSERT INTO audit_log (seq, id, type, type_name, source, subject, actor_id, time, request_id, ip, traceparent,
                            subject_seq, data, recorded_at, prev_hash, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $15, $16)`,
    [
      content.seq, content.id, content.type, typeNameOf(content.type), content.source, content.subject,
      content.actorId, content.time, content.requestId, content.ip, content.traceparent, content.subjectSeq,
      JSON.stringify(content.data), content.recordedAt, content.prevHash, hash
    ]
  )
  return { appended: true, seq: content.seq, hash }
}
