import type { Prisma, PrismaClient } from '../../generated/prisma/client.js'
import { typeNameOf } from './audit.types.js'

export interface AuditRow {
  seq: bigint
  id: string
  type: string
  source: string
  subject: string
  actorId: string | null
  time: Date
  requestId: string | null
  ip: string | null
  traceparent: string | null
  subjectSeq: bigint | null
  data: Prisma.JsonValue
  recordedAt: Date
  prevHash: string
  hash: string
}

export interface AuditFilter {
  actorId?: string
  subject?: string
  /** A full type. */
  type?: string
  /** A type without its version. */
  typeName?: string
  /** Only these full types (a moderator's view). */
  types?: readonly string[]
  from?: Date
  to?: Date
  /** The (time, id) of the last row of the previous page: newest first, so the page continues below it. */
  after?: { time: Date, id: string }
  limit: number
}

const select = {
  seq: true,
  id: true,
  type: true,
  source: true,
  subject: true,
  actorId: true,
  time: true,
  requestId: true,
  ip: true,
  traceparent: true,
  subjectSeq: true,
  data: true,
  recordedAt: true,
  prevHash: true,
  hash: true
} as const

export class AuditRepository {
  constructor (private readonly prisma: PrismaClient) {}

  /** Newest first by (time, id); `limit + 1` rows so the caller knows whether there is a next page. */
  async list (f: AuditFilter): Promise<AuditRow[]> {
    const and: Prisma.AuditEntryWhereInput[] = []
    if (f.actorId !== undefined) and.push({ actorId: f.actorId })
    if (f.subject !== undefined) and.push({ subject: f.subject })
    if (f.typeName !== undefined) and.push({ typeName: f.typeName })
    if (f.type !== undefined) and.push({ typeName: typeNameOf(f.type), type: f.type })
    if (f.types !== undefined) and.push({ type: { in: [...f.types] } })
    if (f.from !== undefined) and.push({ time: { gte: f.from } })
    if (f.to !== undefined) and.push({ time: { lt: f.to } })
    if (f.after !== undefined) {
      and.push({ OR: [{ time: { lt: f.after.time } }, { time: f.after.time, id: { lt: f.after.id } }] })
    }
    return await this.prisma.auditEntry.findMany({
      where: { AND: and },
      orderBy: [{ time: 'desc' }, { id: 'desc' }],
      take: f.limit + 1,
      select
    })
  }

  /** The chain in order, `limit` rows after position `afterSeq`. */
  async chainAfter (afterSeq: bigint, limit: number): Promise<AuditRow[]> {
    return await this.prisma.auditEntry.findMany({
      where: { seq: { gt: afterSeq } },
      orderBy: { seq: 'asc' },
      take: limit,
      select
    })
  }
}
