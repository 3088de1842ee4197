// The CloudEvents 1.0 envelope (JSON, structured mode) every event travels in,
// how producers make one (makeEvent) and how consumers read one (parseEvent).
// Both check the same rules, so what a consumer accepts is exactly what a
// producer may publish.
import { Type, type Static } from 'typebox'
import { Compile, type Validator } from 'typebox/compile'
import { v7 as uuidv7 } from 'uuid'
import {
  catalogue, isEventType, PRODUCERS,
  type ActorOf, type EventData, type EventType, type Producer, type SourceOf
} from './catalogue.js'

export const SPEC_VERSION = '1.0'
export const DATA_CONTENT_TYPE = 'application/json'

/** W3C trace context, version 00 (later versions may append fields). */
const TRACEPARENT = '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-.*)?$'

/** The envelope with `data` left open; each type's data schema is checked separately. */
export const EnvelopeSchema = Type.Object({
  specversion: Type.Literal(SPEC_VERSION),
  id: Type.String({ format: 'uuid', description: 'A UUIDv7: unique, and ordered by the time it was made' }),
  source: Type.String({ minLength: 1, description: 'The producing service (holo-auth, holo-card, holo-file)' }),
  type: Type.String({ pattern: '^holo\\.[a-z_]+\\.[a-z_]+\\.v[0-9]+$', description: 'holo.<entity>.<verb>.v<n>' }),
  subject: Type.String({ minLength: 1, description: 'The id of the entity the event is about' }),
  time: Type.String({ format: 'date-time', description: 'When it happened (RFC 3339)' }),
  datacontenttype: Type.Literal(DATA_CONTENT_TYPE),
  data: Type.Unknown(),
  requestid: Type.Optional(Type.String({
    minLength: 1, maxLength: 200, description: 'The X-Request-Id of the request that caused it'
  })),
  traceparent: Type.Optional(Type.String({ pattern: TRACEPARENT, description: 'W3C trace context of that request' })),
  actorid: Type.Optional(Type.String({ format: 'uuid', description: 'The user who did it, where there is one' })),
  clientip: Type.Optional(Type.String({
    minLength: 2, maxLength: 45, description: 'The client address of that request, as the service saw it (audit)'
  })),
  subjectseq: Type.Optional(Type.Integer({
    minimum: 1,
    description: 'Position among the events of the same subject, from the producer\'s outbox (1, 2, 3, ...)'
  }))
}, { description: 'A CloudEvents 1.0 envelope (structured JSON mode) with Holo\'s extension attributes' })

export type RawEnvelope = Static<typeof EnvelopeSchema>

/** One event of type T, its data typed by the catalogue. */
export interface Envelope<T extends EventType> {
  specversion: typeof SPEC_VERSION
  id: string
  source: SourceOf<T>
  type: T
  subject: string
  time: string
  datacontenttype: typeof DATA_CONTENT_TYPE
  data: EventData<T>
  requestid?: string
  traceparent?: string
  actorid?: string
  clientip?: string
  /** Set by the outbox when it is written with subject sequences (the default). */
  subjectseq?: number
}

/** Any catalogued event (a union discriminated by `type`), or one type's. */
export type HoloEvent<T extends EventType = EventType> = T extends EventType ? Envelope<T> : never

type ActorInput<T extends EventType> =
  ActorOf<T> extends 'required' ? { actorId: string }
    : ActorOf<T> extends 'optional' ? { actorId?: string | null }
      : { actorId?: never }

export type MakeEventInput<T extends EventType> = {
  /** The entity the event is about (see the catalogue's `subject`). */
  subject: string
  data: EventData<T>
  requestId?: string | null
  traceparent?: string | null
  /** The client address of the request that caused it. */
  ip?: string | null
  /** When it happened; now by default. */
  time?: Date
} & ActorInput<T>

/** Thrown by makeEvent (and writeOutbox) for an event that breaks the catalogue. */
export class InvalidEventError extends Error {
  constructor (readonly eventType: string, readonly reason: string) {
    super(`invalid ${eventType} event: ${reason}`)
    this.name = 'InvalidEventError'
  }
}

const envelopeValidator = Compile(EnvelopeSchema)
// Compiled on first use: a consumer that sees three types compiles three.
const dataValidators = new Map<EventType, Validator>()

function dataValidator (type: EventType): Validator {
  let v = dataValidators.get(type)
  if (v === undefined) {
    v = Compile(catalogue[type].data)
    dataValidators.set(type, v)
  }
  return v
}

function describe (validator: Validator, value: unknown, prefix: string): string {
  return validator.Errors(value).slice(0, 3)
    .map((e) => `${prefix}${e.instancePath === '' ? '' : e.instancePath} ${e.message}`).join('; ')
}

/** Why an envelope breaks the catalogue, or undefined when it is a valid event. */
export function checkEvent (value: unknown): string | undefined {
  if (!envelopeValidator.Check(value)) return describe(envelopeValidator, value, 'envelope')
  if (!isEventType(value.type)) return `unknown event type ${value.type}`
  const entry = catalogue[value.type]
  if (value.source !== PRODUCERS[entry.producer]) {
    return `source ${value.source} does not publish ${value.type} (${PRODUCERS[entry.producer]} does)`
  }
  if (entry.actor === 'required' && value.actorid === undefined) return `${value.type} needs an actorid`
  if (entry.actor === 'none' && value.actorid !== undefined) return `${value.type} has no actor`
  const data = dataValidator(value.type)
  if (!data.Check(value.data)) return describe(data, value.data, 'data')
  return undefined
}

/**
 * Makes an event of a catalogued type. The compiler refuses unknown types and
 * data that does not match the type; at run time the data is checked against
 * its schema too, so a bad payload throws here, before anything is written.
 */
export function makeEvent<T extends EventType> (type: T, input: MakeEventInput<T>): HoloEvent<T> {
  if (!isEventType(type)) throw new InvalidEventError(String(type), 'not a catalogued event type')
  const event: Record<string, unknown> = {
    specversion: SPEC_VERSION,
    id: uuidv7(),
    source: PRODUCERS[catalogue[type].producer],
    type,
    subject: input.subject,
    time: (input.time ?? new Date()).toISOString(),
    datacontenttype: DATA_CONTENT_TYPE,
    // What is checked is what will be stored: JSON drops undefined fields and turns dates into strings.
    data: input.data === undefined ? undefined : JSON.parse(JSON.stringify(input.data)) as unknown
  }
  if (input.requestId != null && input.requestId !== '') event.requestid = input.requestId
  if (input.traceparent != null && input.traceparent !== '') event.traceparent = input.traceparent
  if (input.actorId != null) event.actorid = input.actorId
  if (input.ip != null && input.ip !== '') event.clientip = input.ip
  const problem = checkEvent(event)
  if (problem !== undefined) throw new InvalidEventError(type, problem)
  return event as unknown as HoloEvent<T>
}

export type ParseResult =
  | { ok: true, event: HoloEvent }
  | { ok: false, reason: string, id?: string, type?: string }

/** Reads an event as a consumer receives it (JSON text or a parsed value): a typed event, or why not. */
export function parseEvent (raw: unknown): ParseResult {
  let value = raw
  if (typeof raw === 'string' || Buffer.isBuffer(raw)) {
    try {
      value = JSON.parse(raw.toString())
    } catch {
      return { ok: false, reason: 'not JSON' }
    }
  }
  const problem = checkEvent(value)
  if (problem === undefined) return { ok: true, event: value as HoloEvent }
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
  return {
    ok: false,
    reason: problem,
    ...(typeof v.id === 'string' ? { id: v.id } : {}),
    ...(typeof v.type === 'string' ? { type: v.type } : {})
  }
}

/** The producer whose stream carries an event. */
export function producerOf (event: HoloEvent): Producer {
  return catalogue[event.type].producer
}

/**
 * The smallest UUIDv7 of a millisecond. Event ids are UUIDv7s, which sort by
 * the time they were made (PostgreSQL compares uuids bytewise), so a primary
 * key on them doubles as a time index: `id >= eventIdFloor(since)`.
 */
export function eventIdFloor (time: Date | number): string {
  const ms = Math.max(0, Math.floor(typeof time === 'number' ? time : time.getTime()))
  const hex = ms.toString(16).padStart(12, '0').slice(-12)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`
}
