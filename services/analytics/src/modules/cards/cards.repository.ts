import pg from 'pg'
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js'
import type { TopMetric } from './cards.schemas.js'

export interface CardEntry { cardId: string, ownerId: string | null, deleted: boolean }
export interface CardHour { bucket: Date, views: number, likes: number, unlikes: number }

/** Reads the card directory and the per-card hourly counters. */
export class CardsRepository {
  readonly #schema: Prisma.Sql

  constructor (private readonly prisma: PrismaClient, schema: string) {
    this.#schema = Prisma.raw(pg.escapeIdentifier(schema))
  }

  async find (cardId: string): Promise<CardEntry | null> {
    return await this.prisma.card.findUnique({
      where: { cardId },
      select: { cardId: true, ownerId: true, deleted: true }
    })
  }

  async hours (cardId: string, from: Date, to: Date): Promise<CardHour[]> {
    const rows = await this.prisma.cardHourly.findMany({
      where: { cardId, bucket: { gte: from, lt: to } },
      select: { bucket: true, views: true, likes: true, unlikes: true },
      orderBy: { bucket: 'asc' }
    })
    return rows.map((r) => ({
      bucket: r.bucket, views: Number(r.views), likes: Number(r.likes), unlikes: Number(r.unlikes)
    }))
  }

  /**
   * Cards ranked by views or net likes since `since`, best first (ties by id), positive values only. With
   * `listedOnly`, only cards the directory knows as public, not hidden and not deleted.
   */
  async top (
    metric: TopMetric, since: Date, limit: number, listedOnly: boolean
  ): Promise<Array<{ cardId: string, value: number }>> {
    const value = metric === 'views' ? Prisma.sql`sum(h.views)` : Prisma.sql`sum(h.likes - h.unlikes)`
    const listed = listedOnly
      ? Prisma.sql`JOIN ${this.#schema}.cards c ON c.card_id = h.card_id
          AND c.visibility = 'public' AND NOT c.hidden AND NOT c.deleted`
      : Prisma.empty
    const rows = await this.prisma.$queryRaw<Array<{ card_id: string, value: bigint | number | string }>>`
      SELECT h.card_id, ${value} AS value
      FROM ${this.#schema}.card_hourly h ${listed}
      WHERE h.bucket >= ${since}
      GROUP BY h.card_id
      HAVING ${value} > 0
      ORDER BY value DESC, h.card_id
      LIMIT ${limit}`
    return rows.map((r) => ({ cardId: r.card_id, value: Number(r.value) }))
  }
}
