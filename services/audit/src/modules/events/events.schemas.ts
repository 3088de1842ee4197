import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, pageOf } from '@holo/shared'

/** A consumer group's name, as the bus's stream names allow. */
export const GroupNameSchema = Type.String({
  pattern: '^[A-Za-z0-9:._-]{1,64}$', description: 'A consumer group (audit, analytics, …)'
})
export const ENTRY_ID_PATTERN = '^[0-9]{1,20}-[0-9]{1,20}$'
const EntryIdSchema = Type.String({ pattern: ENTRY_ID_PATTERN, description: 'A Redis stream entry id' })
const NullableCount = (description: string) => Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description })

export const StreamGroupStatsSchema = Type.Object({
  stream: Type.String({ description: 'The stream (a producer\'s, or the group\'s replay stream)' }),
  length: Type.Integer({ minimum: 0, description: 'Entries in the stream' }),
  lag: NullableCount('Entries not yet delivered to the group (null when Redis cannot tell)'),
  pending: Type.Integer({ minimum: 0, description: 'Delivered to the group, not yet acknowledged' }),
  lastDeliveredId: Type.String(),
  consumers: Type.Integer({ minimum: 0, description: 'Consumers Redis knows in the group' })
})

export const ConsumerStatsSchema = Type.Object({
  group: Type.String(),
  lag: NullableCount('Sum of the streams\' lag (null when one is unknown)'),
  pending: Type.Integer({ minimum: 0 }),
  deadLetters: Type.Integer({ minimum: 0, description: 'Entries in the group\'s dead-letter stream' }),
  streams: Type.Array(StreamGroupStatsSchema)
}, { description: 'One consumer group\'s position on the bus' })

export const ConsumersSchema = Type.Object({ groups: Type.Array(ConsumerStatsSchema) })
export type Consumers = Static<typeof ConsumersSchema>

export const DeadLetterSchema = Type.Object({
  id: Type.String({ description: 'The entry id in the dead-letter stream (what replay takes)' }),
  group: Type.String(),
  stream: Type.String({ description: 'The stream the event was published on' }),
  entryId: Type.String({ description: 'The event\'s entry id on that stream' }),
  eventId: Type.Union([Type.String(), Type.Null()], { description: 'The event\'s id, when it had one' }),
  type: Type.Union([Type.String(), Type.Null()], { description: 'The event\'s type, when it had one' }),
  attempts: Type.Integer({ minimum: 0 }),
  error: Type.String({ description: 'Why the group gave up on it' }),
  failedAt: Type.String(),
  consumer: Type.String({ description: 'The consumer that dead-lettered it' }),
  event: Type.Unknown({ description: 'The envelope as published: parsed when it is JSON, else the raw text' })
}, { description: 'An event a consumer group gave up on' })
export type DeadLetterItem = Static<typeof DeadLetterSchema>

export const DeadLetterPageSchema = pageOf(DeadLetterSchema)
export type DeadLetterPage = Static<typeof DeadLetterPageSchema>

export const ListDeadLettersQuerySchema = Type.Object({
  group: GroupNameSchema,
  limit: Type.Optional(LimitSchema),
  cursor: Type.Optional(CursorSchema)
})
export type ListDeadLettersQuery = Static<typeof ListDeadLettersQuerySchema>

export const DeadLetterParamsSchema = Type.Object({ id: EntryIdSchema })
export const ReplayOneQuerySchema = Type.Object({
  group: Type.Optional({
    ...GroupNameSchema, description: 'The group whose dead letter it is (needed when several groups have the id)'
  })
})
export const ReplayAllQuerySchema = Type.Object({ group: GroupNameSchema })

export const ReplayedSchema = Type.Object({
  replayed: Type.Integer({ minimum: 0, description: 'How many dead letters went back to their group' })
})
export type Replayed = Static<typeof ReplayedSchema>
