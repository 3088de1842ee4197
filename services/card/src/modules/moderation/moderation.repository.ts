import type { HoloEvent } from '@holo/events'
import { writeEvents } from '@holo/shared'
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js'
import type { CardTx } from '../cards/cards.repository.js'

export interface NewReport { id: string, cardId: string, reporterId: string, reason: string, note: string | null }

export interface ReportRow {
  id: string
  cardId: string
  reporterId: string
  reason: string
  note: string | null
  status: string
  autoHid: boolean
  createdAt: Date
}

/** A card of the queue: where its group sorts, and what a dashboard shows of it. */
export interface QueuedCardRow {
  cardId: string
  firstAt: Date
  title: string
  ownerId: string
  hiddenAt: Date | null
  deletedAt: Date | null
  visibility: string
  rarity: string
  artworkFileId: string | null
  holo: unknown
}

export interface QueueFilter {
  status: 'open' | 'resolved'
  reason?: string
  /** The last group of the previous page: (first report's time, card id). */
  after?: { firstAt: string, cardId: string }
  limit: number
}

/** A reported card, locked until the transaction ends. */
export interface LockedCard { ownerId: string, hidden: boolean, deleted: boolean }

const REPORT_COLUMNS = Prisma.sql`id, card_id AS "cardId", reporter_id AS "reporterId", reason, note, status,
  auto_hid AS "autoHid", created_at AS "createdAt"`

export class ModerationRepository {
  constructor (private readonly prisma: PrismaClient, private readonly schema: string) {}

  /** One transaction of the waking client: the relays are woken once it committed, when it wrote events. */
  async transaction<R> (work: (tx: CardTx) => Promise<R>): Promise<R> {
    return await this.prisma.$transaction(work)
  }

  /**
   * Locks the card's row until the transaction ends, so that the reports and resolutions of one card take turns
   * (the count that decides an automatic hide is exact). Null when there is no card.
   */
  async lockCard (tx: CardTx, cardId: string): Promise<LockedCard | null> {
    const rows = await tx.$queryRaw<Array<{ ownerId: string, hiddenAt: Date | null, deletedAt: Date | null }>>`
      SELECT owner_id AS "ownerId", hidden_at AS "hiddenAt", deleted_at AS "deletedAt" FROM cards
      WHERE id = ${cardId}::uuid FOR UPDATE`
    const row = rows[0]
    if (row === undefined) return null
    return { ownerId: row.ownerId, hidden: row.hiddenAt !== null, deleted: row.deletedAt !== null }
  }

  /** Distinct users with an open report on the card. */
  async openReporters (tx: CardTx, cardId: string): Promise<number> {
    const [row] = await tx.$queryRaw<Array<{ n: number }>>`
      SELECT count(DISTINCT reporter_id)::int AS n FROM reports WHERE card_id = ${cardId}::uuid AND status = 'open'`
    return row?.n ?? 0
  }

  /**
   * Inserts the report unless its reporter has an open one on the card: the partial unique index
   * `reports_open_once_idx` decides (its predicate is repeated here as the migration has it), so two concurrent
   * requests cannot both insert. False when there was one.
   */
  async insert (tx: CardTx, r: NewReport, autoHid: boolean): Promise<boolean> {
    const rows = await tx.$queryRaw<Array<{ id: string }>>`
      INSERT INTO reports (id, card_id, reporter_id, reason, note, auto_hid)
      VALUES (${r.id}::uuid, ${r.cardId}::uuid, ${r.reporterId}::uuid, ${r.reason}, ${r.note}, ${autoHid})
      ON CONFLICT (card_id, reporter_id) WHERE status = 'open' DO NOTHING
      RETURNING id`
    return rows.length === 1
  }

  async find (id: string): Promise<ReportRow | null> {
    const rows = await this.prisma.$queryRaw<ReportRow[]>`SELECT ${REPORT_COLUMNS} FROM reports WHERE id = ${id}::uuid`
    return rows[0] ?? null
  }

  /**
   * Resolves every open report of the card; returns them oldest first (RETURNING alone has no order), none when
   * another resolution came first.
   */
  async resolveOpen (
    tx: CardTx, cardId: string, by: string, action: string, note: string | null
  ): Promise<ReportRow[]> {
    return await tx.$queryRaw<ReportRow[]>`
      WITH resolved AS (
        UPDATE reports SET status = 'resolved', action = ${action}, resolution_note = ${note},
          resolved_by = ${by}::uuid, resolved_at = now()
        WHERE card_id = ${cardId}::uuid AND status = 'open'
        RETURNING ${REPORT_COLUMNS}
      )
      SELECT * FROM resolved ORDER BY "createdAt", id`
  }

  async publish (tx: CardTx, events: readonly HoloEvent[]): Promise<void> {
    await writeEvents(tx, events, this.schema)
  }

  /** Reported cards, oldest first report first (keyset on (first report, card id)), `limit + 1` of them. */
  async queuedCards (f: QueueFilter): Promise<QueuedCardRow[]> {
    const reason = f.reason === undefined ? Prisma.empty : Prisma.sql`AND reason = ${f.reason}`
    const after = f.after === undefined
      ? Prisma.empty
      : Prisma.sql`WHERE (g.first_at, g.card_id) > (${f.after.firstAt}::timestamptz, ${f.after.cardId}::uuid)`
    return await this.prisma.$queryRaw<QueuedCardRow[]>`
      WITH g AS (
        SELECT card_id, min(created_at) AS first_at FROM reports
        WHERE status = ${f.status} ${reason} GROUP BY card_id
      )
      SELECT g.card_id AS "cardId", g.first_at AS "firstAt", c.title, c.owner_id AS "ownerId",
        c.hidden_at AS "hiddenAt", c.deleted_at AS "deletedAt", c.visibility, c.rarity,
        c.artwork_file_id AS "artworkFileId", c.holo
      FROM g JOIN cards c ON c.id = g.card_id ${after}
      ORDER BY g.first_at, g.card_id LIMIT ${f.limit + 1}`
  }

  /** The reports of these cards with the queue's status and reason, oldest first. */
  async reportsOf (cardIds: string[], f: Pick<QueueFilter, 'status' | 'reason'>): Promise<ReportRow[]> {
    if (cardIds.length === 0) return []
    const reason = f.reason === undefined ? Prisma.empty : Prisma.sql`AND reason = ${f.reason}`
    return await this.prisma.$queryRaw<ReportRow[]>`
      SELECT ${REPORT_COLUMNS} FROM reports
      WHERE card_id = ANY(${cardIds}::uuid[]) AND status = ${f.status} ${reason}
      ORDER BY created_at, id`
  }
}
