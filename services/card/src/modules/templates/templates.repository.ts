import { type Changed, type EventsOf, likeLiteral, transactionWithEvents } from '@holo/shared'
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
  /** Minor units of priceCurrency; both null when the template has no price. */
  priceAmount: number | null
  priceCurrency: string | null
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
  priceAmount: number | null
  priceCurrency: string | null
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
  priceAmount: true,
  priceCurrency: true,
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
  /** The changed template (its row locked first, so `eventsOf` sees what this change replaced), or null. */
  async update (id: string, changes: TemplateChanges, eventsOf: Changed<TemplateRow>): Promise<TemplateRow | null> {
    const changed = await transactionWithEvents(this.prisma, this.schema, async (tx) => {
      const before = await this.locked(id, tx)
      if (before === null) return null
      await tx.template.updateMany({
        where: { id },
        data: { ...changes, layout: json(changes.layout), holoDefaults: json(changes.holoDefaults) }
      })
      return { before, after: await tx.template.findUniqueOrThrow({ where: { id }, select: templateSelect }) }
    }, (c) => c === null ? [] : eventsOf(c.before, c.after))
    return changed?.after ?? null
  }

  private async locked (id: string, tx: Prisma.TransactionClient): Promise<TemplateRow | null> {
    await tx.$queryRaw`SELECT 1 FROM templates WHERE id = ${id}::uuid FOR UPDATE`
    return await tx.template.findUnique({ where: { id }, select: templateSelect })
  }

  /** Deletes the template unless a card uses it, in which case it is archived; null when there is none. */
  async deleteOrArchive (id: string, archivedEventsOf: Changed<TemplateRow>): Promise<'deleted' | 'archived' | null> {
    const outcome = await transactionWithEvents(this.prisma, this.schema, async (tx) => {
      const before = await this.locked(id, tx)
      if (before === null) return null
      const used = await tx.card.findFirst({ where: { templateId: id }, select: { id: true } })
      if (used !== null) {
        await tx.template.updateMany({ where: { id }, data: { status: 'archived' } })
        const after = await tx.template.findUniqueOrThrow({ where: { id }, select: templateSelect })
        return { kind: 'archived' as const, before, after }
      }
      await tx.template.deleteMany({ where: { id } })
      return { kind: 'deleted' as const }
    }, (done) => done?.kind === 'archived' ? archivedEventsOf(done.before, done.after) : [])
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
