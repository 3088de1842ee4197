// What the moderation module tells the rest of the system (docs/events.md has the catalogue); the hides it
// causes are the card module's own holo.card.hidden.v1 / unhidden.v1 (cardModerated).
import type { HoloEvent } from '@holo/events'
import { event } from '@holo/shared'
import type { NewReport, ReportRow } from './moderation.repository.js'

type Reason = 'spam' | 'nsfw' | 'copyright' | 'harassment' | 'other'
export type Action = 'hide' | 'dismiss' | 'warn'

export const cardReported = (r: NewReport, ownerId: string, openReports: number): HoloEvent<'holo.card.reported.v1'> =>
  event('holo.card.reported.v1', {
    subject: r.cardId,
    actorId: r.reporterId,
    data: {
      ownerId,
      reportId: r.id,
      reason: r.reason as Reason,
      ...(r.note === null ? {} : { note: r.note }),
      openReports
    }
  })

export const reportsResolved = (
  cardId: string, ownerId: string, moderatorId: string, action: Action, note: string | null, reports: ReportRow[]
): HoloEvent<'holo.card.reports_resolved.v1'> =>
  event('holo.card.reports_resolved.v1', {
    subject: cardId,
    actorId: moderatorId,
    data: {
      ownerId,
      action,
      ...(note === null ? {} : { note }),
      reportIds: reports.map((r) => r.id),
      reporterIds: [...new Set(reports.map((r) => r.reporterId))]
    }
  })
