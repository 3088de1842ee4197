import type { ChainedContent } from './audit.chain.js'
import type { AuditRow } from './audit.repository.js'
import type { AuditEvent } from './audit.schemas.js'

export const toAuditEvent = (r: AuditRow): AuditEvent => ({
  id: r.id,
  type: r.type,
  source: r.source,
  subject: r.subject,
  actorId: r.actorId,
  time: r.time.toISOString(),
  requestId: r.requestId,
  ip: r.ip,
  traceparent: r.traceparent,
  subjectSeq: r.subjectSeq === null ? null : Number(r.subjectSeq),
  data: r.data
})

/** What the row's hash covers, rebuilt from the stored row exactly as the appender built it from the event. */
export const toChainedContent = (r: AuditRow): ChainedContent & { hash: string } => ({
  seq: Number(r.seq),
  id: r.id,
  type: r.type,
  source: r.source,
  subject: r.subject,
  actorId: r.actorId,
  time: r.time.toISOString(),
  requestId: r.requestId,
  ip: r.ip,
  traceparent: r.traceparent,
  subjectSeq: r.subjectSeq === null ? null : Number(r.subjectSeq),
  data: r.data,
  recordedAt: r.recordedAt.toISOString(),
  prevHash: r.prevHash,
  hash: r.hash
})
