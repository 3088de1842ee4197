import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, UuidSchema, pageOf } from '@holo/shared'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T, description: string) =>
  Type.Union([schema, Type.Null()], { description })

export const AuditEventSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'The event\'s CloudEvents id (a UUIDv7)' }),
  type: Type.String({ description: 'The full versioned type, e.g. holo.card.liked.v1' }),
  source: Type.String({ description: 'The producing service: holo-auth, holo-card, holo-file' }),
  subject: Type.String({ description: 'The id of the entity the event is about' }),
  actorId: Nullable(Type.String({ format: 'uuid' }), 'Who did it (null when the system did)'),
  time: Type.String({ format: 'date-time', description: 'When it happened, in UTC to the millisecond' }),
  requestId: Nullable(Type.String(), 'The X-Request-Id of the request that caused it'),
  ip: Nullable(Type.String(), 'The client address of that request, as its service saw it'),
  traceparent: Nullable(Type.String(), 'W3C trace context of that request'),
  subjectSeq: Nullable(Type.Integer({ minimum: 1 }), 'Position among its subject\'s events, from the producer'),
  data: Type.Unknown({ description: 'The event\'s data, as published' })
}, { description: 'One entry of the audit log' })
export type AuditEvent = Static<typeof AuditEventSchema>

export const AuditEventPageSchema = pageOf(AuditEventSchema)
export type AuditEventPage = Static<typeof AuditEventPageSchema>

export const ListAuditEventsQuerySchema = Type.Object({
  actorId: Type.Optional({ ...UuidSchema, description: 'Only what this user did' }),
  subject: Type.Optional(Type.String({
    minLength: 1, maxLength: 200, description: 'Only events about this entity (its id)'
  })),
  type: Type.Optional(Type.String({
    pattern: '^holo\\.[a-z_]+\\.[a-z_]+(\\.v[0-9]+)?$',
    maxLength: 200,
    description: 'A full type (holo.card.liked.v1), or a type without its version (holo.card.liked) for every version'
  })),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Events at or after this time (RFC 3339)' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Events before this time (RFC 3339)' })),
  limit: Type.Optional(LimitSchema),
  cursor: Type.Optional(CursorSchema)
})
export type ListAuditEventsQuery = Static<typeof ListAuditEventsQuerySchema>

export const VerifyResultSchema = Type.Object({
  ok: Type.Boolean({ description: 'Whether every row links to the one before it and matches its hash' }),
  count: Type.Integer({
    minimum: 0,
    description: 'Rows that verified: the whole log when ok, else the rows before the first broken one'
  }),
  firstBrokenId: Type.Optional(Type.String({
    format: 'uuid', description: 'The event id of the first row that breaks the chain (only when not ok)'
  })),
  reason: Type.Optional(Type.String({ description: 'How that row breaks the chain (only when not ok)' })),
  lastHash: Type.Optional(Type.String({
    pattern: '^[0-9a-f]{64}$',
    description: 'The hash of the newest row (when ok and the log is not empty): keep it elsewhere to anchor the log'
  }))
}, { description: 'The result of walking the hash chain from the first row to the last' })
export type VerifyResult = Static<typeof VerifyResultSchema>
