import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, UuidSchema } from '@holo/shared'
import { HoloSchema, RaritySchema, VisibilitySchema } from '../cards/cards.schemas.js'

export const ReportReasonSchema = Type.Enum(['spam', 'nsfw', 'copyright', 'harassment', 'other'], {
  description: 'Why the card is reported'
})
export const ReportStatusSchema = Type.Enum(['open', 'resolved'], {
  description: 'open: waiting for a moderator; resolved: a moderator decided'
})
export const ResolveActionSchema = Type.Enum(['hide', 'dismiss', 'warn'], {
  description: 'hide: hide the card (its owner and staff still see it); dismiss: no action (a card hidden ' +
    'automatically by reports is shown again); warn: warn the owner, the card stays as it is'
})
const NoteSchema = Type.String({ minLength: 1, maxLength: 1000 })

export const CreateReportSchema = Type.Object({
  reason: ReportReasonSchema,
  note: Type.Optional({ ...NoteSchema, description: 'What the moderators should know' })
}, { additionalProperties: false, examples: [{ reason: 'spam', note: 'Posted forty times today' }] })
export type CreateReport = Static<typeof CreateReportSchema>

export const ReportSchema = Type.Object({
  id: UuidSchema,
  cardId: UuidSchema,
  reason: ReportReasonSchema,
  status: ReportStatusSchema
})
export type Report = Static<typeof ReportSchema>

export const ReportQueueQuerySchema = Type.Object({
  status: Type.Optional({ ...ReportStatusSchema, default: 'open', description: 'Which reports (default open)' }),
  reason: Type.Optional({ ...ReportReasonSchema, description: 'Only reports of this reason' }),
  limit: Type.Optional(LimitSchema),
  cursor: Type.Optional(CursorSchema)
}, { additionalProperties: false })
export type ReportQueueQuery = Static<typeof ReportQueueQuerySchema>

const ReportEntrySchema = Type.Object({
  id: UuidSchema,
  reason: ReportReasonSchema,
  note: Type.Union([Type.String(), Type.Null()]),
  reporterId: UuidSchema,
  createdAt: Type.String({ format: 'date-time' })
})

/** What a dashboard shows of the reported card (the card API's fields of the same names). */
const CardPreviewSchema = Type.Object({
  title: Type.String(),
  ownerId: UuidSchema,
  hidden: Type.Boolean({ description: 'Hidden by moderation (by a moderator, or automatically by reports)' }),
  deleted: Type.Boolean({ description: 'Deleted since it was reported' }),
  visibility: VisibilitySchema,
  rarity: RaritySchema,
  artworkFileId: Type.Union([UuidSchema, Type.Null()], { description: 'Its artwork in the file service' }),
  holo: HoloSchema
})

export const ReportGroupSchema = Type.Object({
  cardId: UuidSchema,
  status: ReportStatusSchema,
  count: Type.Integer({ minimum: 1, description: 'Reports in the group' }),
  reasons: Type.Array(ReportReasonSchema, { description: 'The distinct reasons, most frequent first' }),
  firstReportedAt: Type.String({ format: 'date-time' }),
  reports: Type.Array(ReportEntrySchema, { description: 'Oldest first' }),
  card: CardPreviewSchema
})
export type ReportGroup = Static<typeof ReportGroupSchema>

export const ReportQueueSchema = Type.Object({
  items: Type.Array(ReportGroupSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()])
})
export type ReportQueue = Static<typeof ReportQueueSchema>

export const ResolveReportSchema = Type.Object({
  action: ResolveActionSchema,
  note: Type.Optional({
    ...NoteSchema,
    description: 'Why, for the owner and reporters (their notifications) and the audit log'
  })
}, { additionalProperties: false, examples: [{ action: 'hide', note: 'Spam' }] })
export type ResolveReport = Static<typeof ResolveReportSchema>

export const ResolutionSchema = Type.Object({
  cardId: UuidSchema,
  action: ResolveActionSchema,
  resolved: Type.Integer({ minimum: 1, description: 'How many open reports this resolved' }),
  hidden: Type.Boolean({ description: 'Whether the card is hidden now' })
})
export type Resolution = Static<typeof ResolutionSchema>
