// The only module that talks to PostgreSQL (through Prisma).
import { type EventsOf, writeEvents } from '@holo/shared'
import { Prisma, type PrismaClient, type File as FileRow } from '../../generated/prisma/client.js'

export interface FileRecord {
  id: string
  ownerId: string
  purpose: string
  visibility: string
  filename: string
  contentType: string
  size: number
  sha256: string
  width: number | null
  height: number | null
  storageKey: string
  createdAt: Date
}

export type NewFile = Omit<FileRecord, 'id' | 'createdAt'>

export type CommitResult =
  | { kind: 'created', file: FileRecord }
  | { kind: 'duplicate', file: FileRecord }
  | { kind: 'quota', used: number }

export interface ListQuery { ownerId: string, purpose?: string, after?: { createdAt: Date, id: string }, limit: number }

const toRecord = (r: FileRow): FileRecord => ({
  id: r.id,
  ownerId: r.ownerId,
  purpose: r.purpose,
  visibility: r.visibility,
  filename: r.filename,
  contentType: r.contentType,
  size: Number(r.size),
  sha256: r.sha256,
  width: r.width,
  height: r.height,
  storageKey: r.storageKey,
  createdAt: r.createdAt
})

const isUniqueViolation = (err: unknown): boolean =>
  err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002'

export class FilesRepository {
  constructor (private readonly prisma: PrismaClient, private readonly schema: string) {}

  async findById (id: string): Promise<FileRecord | null> {
    const row = await this.prisma.file.findUnique({ where: { id } })
    return row === null ? null : toRecord(row)
  }

  async findByOwnerAndHash (ownerId: string, sha256: string): Promise<FileRecord | null> {
    const row = await this.prisma.file.findUnique({ where: { ownerId_sha256: { ownerId, sha256 } } })
    return row === null ? null : toRecord(row)
  }

  async list (q: ListQuery): Promise<FileRecord[]> {
    const rows = await this.prisma.file.findMany({
      where: {
        ownerId: q.ownerId,
        ...(q.purpose !== undefined ? { purpose: q.purpose } : {}),
        ...(q.after !== undefined
          ? { OR: [{ createdAt: { lt: q.after.createdAt } }, { createdAt: q.after.createdAt, id: { lt: q.after.id } }] }
          : {})
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: q.limit
    })
    return rows.map(toRecord)
  }

  async usedBy (ownerId: string): Promise<number> {
    const row = await this.prisma.storageUsage.findUnique({ where: { ownerId } })
    return row === null ? 0 : Number(row.used)
  }

  /**
   * Counts the bytes against the owner's quota and inserts the row in one
   * transaction. The conditional UPDATE locks the owner's usage row, so
   * concurrent uploads are serialised there and can never exceed the quota.
   * `quota` null means unlimited.
   */
  async commit (file: NewFile, quota: number | null, eventsOf: EventsOf<FileRecord>): Promise<CommitResult> {
    try {
      return await this.prisma.$transaction(async (tx) => {
        await tx.storageUsage.createMany({ data: [{ ownerId: file.ownerId, used: 0 }], skipDuplicates: true })
        const reserved = await tx.storageUsage.updateMany({
          where: { ownerId: file.ownerId, ...(quota !== null ? { used: { lte: quota - file.size } } : {}) },
          data: { used: { increment: file.size } }
        })
        if (reserved.count === 0) {
          const usage = await tx.storageUsage.findUnique({ where: { ownerId: file.ownerId } })
          return { kind: 'quota' as const, used: Number(usage?.used ?? 0) }
        }
        const created = toRecord(await tx.file.create({ data: { ...file, size: BigInt(file.size) } }))
        await writeEvents(tx, eventsOf(created), this.schema)
        return { kind: 'created' as const, file: created }
      })
    } catch (err) {
      // The same owner uploaded the same bytes concurrently: theirs won.
      if (!isUniqueViolation(err)) throw err
      const existing = await this.findByOwnerAndHash(file.ownerId, file.sha256)
      if (existing === null) throw err
      return { kind: 'duplicate', file: existing }
    }
  }

  /** Deletes the row and gives its bytes back to the owner's quota; null when it was already gone. */
  async delete (id: string, eventsOf: EventsOf<FileRecord>): Promise<FileRecord | null> {
    return await this.prisma.$transaction(async (tx) => {
      const row = await tx.file.findUnique({ where: { id } })
      if (row === null) return null
      // Of two concurrent deletes only one counts.
      const deleted = await tx.file.deleteMany({ where: { id } })
      if (deleted.count === 0) return null
      await tx.storageUsage.updateMany({ where: { ownerId: row.ownerId }, data: { used: { decrement: row.size } } })
      const record = toRecord(row)
      await writeEvents(tx, eventsOf(record), this.schema)
      return record
    })
  }

  /** Which of these storage keys have a row. */
  async existingKeys (keys: string[]): Promise<Set<string>> {
    const rows = await this.prisma.file.findMany({ where: { storageKey: { in: keys } }, select: { storageKey: true } })
    return new Set(rows.map((r) => r.storageKey))
  }

  /** Every row, in id order, one page at a time (`afterId` null: the first page). */
  async pageById (afterId: string | null, limit: number): Promise<FileRecord[]> {
    const rows = await this.prisma.file.findMany({
      where: afterId !== null ? { id: { gt: afterId } } : {},
      orderBy: { id: 'asc' },
      take: limit
    })
    return rows.map(toRecord)
  }
}
