import type { AuthUser } from '@holo/shared'
import { commonErrors, decodeCursor, encodeCursor, isStorableTime, page, UUID } from '@holo/shared'
import { v7 as uuidv7 } from 'uuid'
import { errors } from '../../errors.js'
import { toHolo } from '../cards/cards.mappers.js'
import type { CardRepository } from '../cards/cards.repository.js'
import { canReadCard, metaOf, type CardService, type HiddenChange } from '../cards/cards.service.js'
import { cardReported, reportsResolved } from './moderation.events.js'
import type { ModerationRepository, NewReport, QueueFilter, QueuedCardRow, ReportRow } from './moderation.repository.js'
import type {
  CreateReport, Report, ReportGroup, ReportQueue, ReportQueueQuery, Resolution, ResolveReport
} from './moderation.schemas.js'

export interface ModerationServiceDeps {
  reports: ModerationRepository
  cards: CardRepository
  /** The card module's hide, run in the moderation's own transactions. */
  cardService: CardService
  /** Distinct users with an open report that hide a card pending review; 0: never. */
  autoHideReports: number
}

type Reason = ReportGroup['reasons'][number]

export class ModerationService {
  constructor (private readonly d: ModerationServiceDeps) {}

  /**
   * Reports a card the user can see (the card module's visibility rule; 404 otherwise) and does not own. A second
   * open report of the same user is refused by the database itself (409). The report that brings the card to
   * `autoHideReports` distinct reporters hides it in the same transaction.
   */
  async report (user: AuthUser, cardId: string, input: CreateReport): Promise<Report> {
    const row = await this.d.cards.find(cardId)
    if (row === null || !canReadCard(metaOf(row), user)) throw errors.CARD_NOT_FOUND()
    if (row.ownerId === user.id) throw errors.OWN_CARD_REPORTED()
    const report: NewReport = {
      id: uuidv7(), cardId: row.id, reporterId: user.id, reason: input.reason, note: input.note ?? null
    }
    const hide = await this.d.reports.transaction(async (tx): Promise<HiddenChange | null> => {
      const card = await this.d.reports.lockCard(tx, report.cardId)
      if (card === null || card.deleted) throw errors.CARD_NOT_FOUND()
      const reporters = await this.d.reports.openReporters(tx, report.cardId) + 1
      const threshold = this.d.autoHideReports
      const autoHide = threshold > 0 && reporters >= threshold && !card.hidden
      if (!await this.d.reports.insert(tx, report, autoHide)) throw errors.REPORT_ALREADY_OPEN()
      await this.d.reports.publish(tx, [cardReported(report, card.ownerId, reporters)])
      if (!autoHide) return null
      return await this.d.cardService.setHiddenIn(tx, report.cardId, user.id, true, { automatic: true })
    })
    // After the commit, as the hide route does: no reader may refill a cache with the card as it was.
    await hide?.committed()
    return { id: report.id, cardId: report.cardId, reason: input.reason, status: 'open' }
  }

  /** Reported cards with their reports, oldest first report first. */
  async queue (query: ReportQueueQuery): Promise<ReportQueue> {
    const filter: QueueFilter = {
      status: query.status ?? 'open',
      reason: query.reason,
      after: query.cursor === undefined ? undefined : afterOf(query.cursor),
      limit: query.limit ?? 20
    }
    const cards = await this.d.reports.queuedCards(filter)
    const found = page(cards, filter.limit, (c) => c, (c) => encodeCursor('q', [c.firstAt.toISOString(), c.cardId]))
    const reports = await this.d.reports.reportsOf(found.items.map((c) => c.cardId), filter)
    return { items: found.items.map((c) => toGroup(c, filter.status, reports)), nextCursor: found.nextCursor }
  }

  /**
   * Resolves every open report of the report's card in one transaction, with the card's hide (or, dismissing
   * reports that hid it automatically, its showing again) and the event. 409 when the report is resolved already.
   */
  async resolve (moderator: AuthUser, reportId: string, input: ResolveReport): Promise<Resolution> {
    const report = await this.d.reports.find(reportId)
    if (report === null) throw errors.REPORT_NOT_FOUND()
    if (report.status !== 'open') throw errors.REPORT_ALREADY_RESOLVED()
    const note = input.note ?? null
    const done = await this.d.reports.transaction(async (tx) => {
      const card = await this.d.reports.lockCard(tx, report.cardId)
      const resolved = await this.d.reports.resolveOpen(tx, report.cardId, moderator.id, input.action, note)
      // Another moderator resolved it while this request waited for the lock: roll back, nothing changes.
      if (card === null || !resolved.some((r) => r.id === reportId)) throw errors.REPORT_ALREADY_RESOLVED()
      await this.d.reports.publish(tx, [
        reportsResolved(report.cardId, card.ownerId, moderator.id, input.action, note, resolved)
      ])
      // Dismissing the reports that hid the card pending review shows it again.
      const show = input.action === 'dismiss' && card.hidden && resolved.some((r) => r.autoHid)
      const hide = input.action === 'hide' && !card.hidden
      const change = card.deleted || (!hide && !show)
        ? null
        : await this.d.cardService.setHiddenIn(tx, report.cardId, moderator.id, hide, { reason: input.note })
      return { resolved: resolved.length, change, hidden: change === null ? card.hidden : hide }
    })
    await done.change?.committed()
    return { cardId: report.cardId, action: input.action, resolved: done.resolved, hidden: done.hidden }
  }
}

/** The queue's cursor: the last group's (first report's time, card id). */
function afterOf (cursor: string): QueueFilter['after'] {
  const [firstAt, cardId] = decodeCursor(cursor, 'q', ['s', 's']) as [string, string]
  if (!isStorableTime(new Date(firstAt)) || !UUID.test(cardId)) throw commonErrors.INVALID_CURSOR()
  return { firstAt, cardId }
}

function toGroup (c: QueuedCardRow, status: QueueFilter['status'], all: ReportRow[]): ReportGroup {
  const reports = all.filter((r) => r.cardId === c.cardId)
  const tally = new Map<Reason, number>()
  for (const r of reports) tally.set(r.reason as Reason, (tally.get(r.reason as Reason) ?? 0) + 1)
  return {
    cardId: c.cardId,
    status,
    count: reports.length,
    reasons: [...tally.entries()].sort((a, b) => b[1] - a[1]).map(([reason]) => reason),
    firstReportedAt: c.firstAt.toISOString(),
    reports: reports.map((r) => ({
      id: r.id, reason: r.reason as Reason, note: r.note, reporterId: r.reporterId, createdAt: r.createdAt.toISOString()
    })),
    card: {
      title: c.title,
      ownerId: c.ownerId,
      hidden: c.hiddenAt !== null,
      deleted: c.deletedAt !== null,
      visibility: c.visibility as ReportGroup['card']['visibility'],
      rarity: c.rarity as ReportGroup['card']['rarity'],
      artworkFileId: c.artworkFileId,
      holo: toHolo(c.holo)
    }
  }
}
