import { type EventsOf, likeLiteral, transactionWithEvents } from '@holo/shared'
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js'

export interface TemplateRow {
  id: string
  authorId: string
  name: string
  description: string
  layout: unknown
  holoDefaults: unknown
  status: string
  premium: boolean
  createdAt: Date
  updatedAt: Date
}

export interface NewTemplate {
  authorId: string
  name: string
  description: string
  layout: object
  holoDefaults: object
  status: string
  premium: boolean
}

export type TemplateChanges = Partial<Omit<NewTemplate, 'authorId'>>

export interface TemplateListFilter {
  status: string
  authorId?: string
  q?: string
  after?: { createdAt: string, id: string }
  limit: number
}

const templateSelect = {
  id: true,
  authorId: true,
  name: true,
  description: true,
  layout: true,
  holoDefaults: true,
  status: true,
  premium: true,
  createdAt: true,
  updatedAt: true
} as const

const json = (v: object | undefined): Prisma.InputJsonObject | undefined => v as Prisma.InputJsonObject | undefined

export class TemplateRepository {
  constructor (private readonly prisma: PrismaClient, private readonly schema: string) {}

  async create (t: NewTemplate, eventsOf: EventsOf<TemplateRow>): Promise<TemplateRow> {
    return await transactionWithEvents(this.prisma, this.schema, async (tx) => await tx.template.create({
      data: { ...t, layout: json(t.layout) as Prisma.InputJsonObject, holoDefaults: json(t.holoDefaults) },
      select: templateSelect
    }), eventsOf)
  }

  async find (id: string): Promise<TemplateRow | null> {
    return await this.prisma.template.findUnique({ where: { id }, select: templateSelect })
  }

  /** The changed template, or null when there is none with this id. */
  async update (id: string, changes: TemplateChanges, eventsOf: EventsOf<TemplateRow>): Promise<TemplateRow | null> {
    return await transactionWithEvents(this.prisma, this.schema, async (tx) => {
      const { count } = await tx.template.updateMany({
        where: { id },
        data: { ...changes, layout: json(changes.layout), holoDefaults: json(changes.holoDefaults) }
      })
      return count === 0 ? null : await tx.template.findUnique({ where: { id }, select: templateSelect })
    }, (row) => row === null ? [] : eventsOf(row))
  }

  /** Deletes the template unless a card uses it, in which case it is archived; null when there is none. */
  async deleteOrArchive (id: string, archivedEventsOf: EventsOf<TemplateRow>): Promise<'deleted' | 'archived' | null> {
    const outcome = await transactionWithEvents(this.prisma, this.schema, async (tx) => {
      const used = await tx.card.findFirst({ where: { templateId: id }, select: { id: true } })
      if (used !== null) {
        const { count } = await tx.template.updateMany({ where: { id }, data: { status: 'archived' } })
        const row = count === 0 ? null : await tx.template.findUnique({ where: { id }, select: templateSelect })
        return row === null ? null : { kind: 'archived' as const, row }
      }
      const { count } = await tx.template.deleteMany({ where: { id } })
      return count === 0 ? null : { kind: 'deleted' as const }
    }, (done) => done?.kind === 'archived' ? archivedEventsOf(done.row) : [])
    return outcome?.kind ?? null
  }

  async list (f: TemplateListFilter): Promise<TemplateRow[]> {
    const where: Prisma.TemplateWhereInput = { status: f.status }
    if (f.authorId !== undefined) where.authorId = f.authorId
    if (f.q !== undefined) where.name = { contains: likeLiteral(f.q), mode: 'insensitive' }
    if (f.after !== undefined) {
      const at = new Date(f.after.createdAt)
      where.OR = [{ createdAt: { lt: at } }, { createdAt: at, id: { lt: f.after.id } }]
    }
    return await this.prisma.template.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: f.limit + 1,
      select: templateSelect
    })
  }
}
