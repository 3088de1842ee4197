import { type AuthUser, can, decodeTimeCursor, encodeCursor, isStorableTime, page } from '@holo/shared'
import { errors } from '../../errors.js'
import { chainBreak } from './audit.chain.js'
import { MODERATION_EVENT_TYPES, isVersioned, typeNameOf } from './audit.types.js'
import { toAuditEvent, toChainedContent } from './audit.mappers.js'
import type { AuditFilter, AuditRepository } from './audit.repository.js'
import type { AuditEventPage, ListAuditEventsQuery, VerifyResult } from './audit.schemas.js'

const CURSOR_KIND = 'a'
const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d(?::?\d\d)?)$/

/**
 * An RFC 3339 time as the first millisecond at or after it (the log keeps milliseconds, so `>= from` and `< to`
 * mean the same on the rounded-up value), or null when JavaScript cannot place it (a leap second).
 */
export function parseTime (value: string): Date | null {
  const m = RFC3339.exec(value.toUpperCase().replace(' ', 'T'))
  if (m === null) return null
  const [, base = '', fraction = '', zone = ''] = m
  // Offsets as ±hh:mm, the form Date.parse reads (RFC 3339 and the schema's format also allow ±hh and ±hhmm).
  const offset = zone === 'Z' ? zone : `${zone.slice(0, 3)}:${zone.slice(3).replace(':', '').padEnd(2, '0')}`
  const ms = Date.parse(`${base}.${fraction.slice(0, 3).padEnd(3, '0')}${offset}`)
  if (Number.isNaN(ms)) return null
  return new Date(/[1-9]/.test(fraction.slice(3)) ? ms + 1 : ms)
}

export class AuditService {
  constructor (
    private readonly repo: AuditRepository,
    private readonly options: { verifyBatchSize: number }
  ) {}

  /** Newest first; a caller without audit.read_all sees moderation events only. */
  async list (query: ListAuditEventsQuery, caller: AuthUser): Promise<AuditEventPage> {
    const from = query.from === undefined ? undefined : this.time(query.from, 'from')
    const to = query.to === undefined ? undefined : this.time(query.to, 'to')
    if (from !== undefined && to !== undefined && from > to) throw errors.INVALID_TIME_RANGE()
    const limit = query.limit ?? 20
    const after = query.cursor === undefined ? undefined : decodeTimeCursor(query.cursor, CURSOR_KIND)
    const filter: AuditFilter = {
      actorId: query.actorId?.toLowerCase(),
      subject: query.subject,
      from,
      to,
      after: after === undefined ? undefined : { time: new Date(after.createdAt), id: after.id.toLowerCase() },
      limit
    }
    if (query.type !== undefined) {
      if (isVersioned(query.type)) filter.type = query.type
      else filter.typeName = query.type
    }
    if (!can(caller, 'audit.read_all')) {
      const allowed = MODERATION_EVENT_TYPES.filter((t) =>
        query.type === undefined || t === query.type || typeNameOf(t) === query.type)
      if (allowed.length === 0) return { items: [], nextCursor: null }
      filter.types = allowed
    }
    const rows = await this.repo.list(filter)
    const p = page(rows, limit, toAuditEvent, (r) => encodeCursor(CURSOR_KIND, [r.time.toISOString(), r.id]))
    return { items: p.items, nextCursor: p.nextCursor }
  }

  /** Walks the chain from its first row in batches (never the whole log in memory); stops at the first break. */
  async verify (): Promise<VerifyResult> {
    const batch = this.options.verifyBatchSize
    let previous: { seq: number, hash: string } | null = null
    let count = 0
    let afterSeq = 0n
    for (;;) {
      const rows = await this.repo.chainAfter(afterSeq, batch)
      for (const row of rows) {
        const reason = chainBreak(toChainedContent(row), previous)
        if (reason !== null) return { ok: false, count, firstBrokenId: row.id, reason }
        previous = { seq: Number(row.seq), hash: row.hash }
        count++
        afterSeq = row.seq
      }
      if (rows.length < batch) break
    }
    return previous === null ? { ok: true, count } : { ok: true, count, lastHash: previous.hash }
  }

  private time (value: string, field: 'from' | 'to'): Date {
    const t = parseTime(value)
    if (t === null || !isStorableTime(t)) throw errors.INVALID_TIME(field)
    return t
  }
}
