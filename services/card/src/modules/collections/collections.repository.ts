import type { HoloEvent } from '@holo/events'
import { type EventsOf, transactionWithEvents, writeEvents } from '@holo/shared'
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js'

export interface CollectionRow {
  id: string
  ownerId: string
  name: string
  description: string
  visibility: string
  createdAt: Date
  updatedAt: Date
}

export type NewCollection = Omit<CollectionRow, 'id' | 'createdAt' | 'updatedAt'>
export type CollectionChanges = Partial<Pick<CollectionRow, 'name' | 'description' | 'visibility'>>

export interface CollectionListFilter {
  /** listed: public collections (of ownerId when given); own: every collection of ownerId. */
  scope: 'listed' | 'own'
  ownerId?: string
  after?: { createdAt: string, id: string }
  limit: number
}

export const MAX_CARDS = 1000

const select = {
  id: true,
  ownerId: true,
  name: true,
  description: true,
  visibility: true,
  createdAt: true,
  updatedAt: true
} as const

export class CollectionRepository {
  constructor (private readonly prisma: PrismaClient, private readonly schema: string) {}

  async create (c: NewCollection, eventsOf: EventsOf<CollectionRow>): Promise<CollectionRow> {
    return await transactionWithEvents(this.prisma, this.schema,
      async (tx) => await tx.collection.create({ data: c, select }), eventsOf)
  }

  async find (id: string): Promise<CollectionRow | null> {
    return await this.prisma.collection.findUnique({ where: { id }, select })
  }

  /** The changed collection, or null when there is none with this id. */
  async update (id: string, changes: CollectionChanges): Promise<CollectionRow | null> {
    const { count } = await this.prisma.collection.updateMany({ where: { id }, data: changes })
    return count === 0 ? null : await this.find(id)
  }

  /** False when there was none with this id. */
  async delete (id: string): Promise<boolean> {
    const { count } = await this.prisma.collection.deleteMany({ where: { id } })
    return count === 1
  }

  async list (f: CollectionListFilter): Promise<CollectionRow[]> {
    const where: Prisma.CollectionWhereInput = f.scope === 'listed' ? { visibility: 'public' } : {}
    if (f.ownerId !== undefined) where.ownerId = f.ownerId
    if (f.after !== undefined) {
      const at = new Date(f.after.createdAt)
      where.OR = [{ createdAt: { lt: at } }, { createdAt: at, id: { lt: f.after.id } }]
    }
    return await this.prisma.collection.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: f.limit + 1,
      select
    })
  }

  /** The card ids in order. */
  async cardIds (collectionId: string): Promise<string[]> {
    const rows = await this.prisma.collectionCard.findMany({
      where: { collectionId },
      orderBy: { position: 'asc' },
      select: { cardId: true }
    })
    return rows.map((r) => r.cardId)
  }

  /**
   * Puts a card at `position` (the end when undefined; clamped), moving it
   * when it is already there. Positions stay 0..n-1; the collection row is
   * locked so concurrent changes to one collection apply one after another.
   */
  async putCard (
    collectionId: string,
    cardId: string,
    position: number | undefined,
    addedEventsOf: EventsOf<number>
  ): Promise<'added' | 'moved' | 'unchanged' | 'full'> {
    const key = { collectionId_cardId: { collectionId, cardId } }
    return await this.prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM collections WHERE id = ${collectionId}::uuid FOR UPDATE`
      const current = await tx.collectionCard.findUnique({ where: key, select: { position: true } })
      const count = await tx.collectionCard.count({ where: { collectionId } })
      if (current === null && count >= MAX_CARDS) return 'full'
      if (current !== null) {
        if (position === undefined || Math.min(position, count - 1) === current.position) return 'unchanged'
        await tx.collectionCard.delete({ where: key })
        await tx.$executeRaw`UPDATE collection_cards SET position = position - 1
          WHERE collection_id = ${collectionId}::uuid AND position > ${current.position}`
      }
      const size = current === null ? count : count - 1
      const at = Math.min(position ?? size, size)
      await tx.$executeRaw`UPDATE collection_cards SET position = position + 1
        WHERE collection_id = ${collectionId}::uuid AND position >= ${at}`
      await tx.collectionCard.create({ data: { collectionId, cardId, position: at } })
      await tx.collection.update({ where: { id: collectionId }, data: { updatedAt: new Date() } })
      if (current === null) await writeEvents(tx, addedEventsOf(at), this.schema)
      return current === null ? 'added' : 'moved'
    })
  }

  async removeCard (collectionId: string, cardId: string, events: readonly HoloEvent[]): Promise<boolean> {
    return await this.prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM collections WHERE id = ${collectionId}::uuid FOR UPDATE`
      const removed = await tx.collectionCard.deleteMany({ where: { collectionId, cardId } })
      if (removed.count === 0) return false
      await this.compact(tx, collectionId)
      await tx.collection.update({ where: { id: collectionId }, data: { updatedAt: new Date() } })
      await writeEvents(tx, events, this.schema)
      return true
    })
  }

  /** Renumbers positions 0..n-1 in their current order. */
  private async compact (tx: Prisma.TransactionClient, collectionId: string): Promise<void> {
    await tx.$executeRaw`
      UPDATE collection_cards cc SET position = ordered.rn - 1
      FROM (
        SELECT card_id, row_number() OVER (ORDER BY position) AS rn
        FROM collection_cards WHERE collection_id = ${collectionId}::uuid
      ) ordered
      WHERE cc.collection_id = ${collectionId}::uuid AND cc.card_id = ordered.card_id AND cc.position <> ordered.rn - 1`
  }
}
