import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, UuidSchema, pageOf } from '@holo/shared'
import { NOTIFICATION_TYPES, type NotificationType } from './notifications.types.js'

export const NotificationTypeSchema = Type.Unsafe<NotificationType>(Type.Union(
  NOTIFICATION_TYPES.map((t) => Type.Literal(t)), { description: 'What the notification is about' }))

export const NotificationSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'A UUIDv7; a notification that changed has a new, greater id' }),
  type: NotificationTypeSchema,
  title: Type.String({ description: 'Ready to show, in English' }),
  body: Type.String({ description: 'Ready to show, in English' }),
  data: Type.Record(Type.String(), Type.Unknown(), {
    description: 'What a client needs to act on it: cardId, actorIds, count, reason, templateId…'
  }),
  createdAt: Type.String({ format: 'date-time' }),
  readAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
})
export type Notification = Static<typeof NotificationSchema>

export const NotificationPageSchema = pageOf(NotificationSchema)

export const ListNotificationsQuerySchema = Type.Object({
  unread: Type.Optional(Type.Boolean({ description: 'Only unread notifications' })),
  cursor: Type.Optional(CursorSchema),
  limit: LimitSchema
}, { additionalProperties: false })

export const UnreadCountSchema = Type.Object({ count: Type.Integer({ minimum: 0 }) })

export const ReadAllBodySchema = Type.Object({
  upTo: Type.Optional({ ...UuidSchema, description: 'Only this one and older ones; absent: all' })
}, {
  additionalProperties: false,
  description: 'Optional: without a body, every notification is marked read',
  examples: [{ upTo: '01a22e7b-53d9-7756-a725-3209f76fafa8' }]
})

export const ReadAllResultSchema = Type.Object({
  updated: Type.Integer({ minimum: 0, description: 'How many were marked read' })
})
