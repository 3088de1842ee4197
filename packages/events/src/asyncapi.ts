// The AsyncAPI 3.0 document of the bus, generated from the catalogue (never
// written by hand): one channel per producer stream, one message per event
// type whose payload is the whole envelope with that type's data schema.
import { catalogue, eventTypes, PRODUCERS, typesOf, type EventType, type Producer } from './catalogue.js'
import { EnvelopeSchema } from './envelope.js'
import { DEFAULT_STREAM_PREFIX } from './redis.js'

export interface AsyncApiOptions {
  /** Default `events.` (the channel addresses are prefix + producer). */
  streamPrefix?: string
  /** Default `127.0.0.1:6379`. */
  redisHost?: string
}

type Json = Record<string, unknown>

/** TypeBox schemas carry non-enumerable markers; a JSON round trip leaves plain JSON Schema. */
const plain = (schema: unknown): Json => JSON.parse(JSON.stringify(schema)) as Json

/** The payload schema of one type: the envelope with its type, source, actor rule and data pinned down. */
export function payloadSchema (type: EventType): Json {
  const entry = catalogue[type]
  const envelope = plain(EnvelopeSchema)
  const properties = { ...(envelope.properties as Json) }
  properties.type = { type: 'string', const: type }
  properties.source = { type: 'string', const: PRODUCERS[entry.producer] }
  properties.subject = { type: 'string', minLength: 1, description: `The ${entry.subject}` }
  properties.data = plain(entry.data)
  const required = [...(envelope.required as string[])]
  if (entry.actor === 'required') required.push('actorid')
  else if (entry.actor === 'none') delete properties.actorid
  if (entry.actor !== 'none') {
    properties.actorid = { ...(properties.actorid as Json), description: `The actor: ${entry.actorIs}` }
  }
  return { ...envelope, description: entry.description, properties, required }
}

const messageRef = (type: EventType): Json => ({ $ref: `#/components/messages/${type}` })

const CHANNEL_TEXT: Record<Producer, string> = {
  auth: 'Accounts and sessions: registrations, logins, password and role changes.',
  card: 'Cards, their likes, views and moderation; templates and collections.',
  file: 'Uploaded and deleted files.',
  billing: 'Payments and refunds, entitlements to premium templates, Holo+ subscriptions.'
}

/** The AsyncAPI 3.0 document of every catalogued event. */
export function asyncApiDocument (options: AsyncApiOptions = {}): Json {
  const prefix = options.streamPrefix ?? DEFAULT_STREAM_PREFIX
  const producers = Object.keys(PRODUCERS) as Producer[]
  const channels: Json = {}
  const operations: Json = {}
  for (const producer of producers) {
    const types = typesOf(producer)
    channels[producer] = {
      address: `${prefix}${producer}`,
      title: `${prefix}${producer}`,
      summary: `Events of ${PRODUCERS[producer]}`,
      description: `${CHANNEL_TEXT[producer]} One Redis stream; each entry has one field, \`event\`, holding the ` +
        'CloudEvents envelope as JSON. Entries are kept for the retention period (7 days by default).',
      messages: Object.fromEntries(types.map((t) => [t, messageRef(t)]))
    }
    operations[`${producer}.publish`] = {
      action: 'send',
      channel: { $ref: `#/channels/${producer}` },
      title: `${PRODUCERS[producer]} publishes`,
      summary: 'Written to the outbox in the transaction of the change, then XADDed by the relay, in commit order.',
      messages: types.map((t) => ({ $ref: `#/channels/${producer}/messages/${t}` }))
    }
    operations[`${producer}.consume`] = {
      action: 'receive',
      channel: { $ref: `#/channels/${producer}` },
      title: `Consumer groups read ${prefix}${producer}`,
      summary: 'XREADGROUP; at least once, so consumers record applied event ids (effect once).',
      messages: types.map((t) => ({ $ref: `#/channels/${producer}/messages/${t}` }))
    }
  }
  const messages = Object.fromEntries(eventTypes.map((type) => {
    const entry = catalogue[type]
    return [type, {
      name: type,
      title: type,
      summary: entry.description,
      description: `Producer: ${PRODUCERS[entry.producer]}. Subject: the ${entry.subject}. ` +
        `Actor (${entry.actor}): ${entry.actorIs}.`,
      contentType: 'application/json',
      payload: payloadSchema(type)
    }]
  }))
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Holo Cards events',
      version: '1.0.0',
      description: 'What auth, card and file publish on the event bus (Redis Streams). Every message is a ' +
        'CloudEvents 1.0 envelope in structured JSON mode with the extensions requestid, traceparent, actorid, ' +
        'clientip and subjectseq. Generated from packages/events/src/catalogue.ts.'
    },
    defaultContentType: 'application/json',
    servers: {
      redis: {
        host: options.redisHost ?? '127.0.0.1:6379',
        protocol: 'redis',
        description: 'Redis 7 Streams: XADD by the producers\' relays, XREADGROUP by consumer groups'
      }
    },
    channels,
    operations,
    components: { messages }
  }
}

/** A short reading of a field's schema for the catalogue table: `uuid`, `integer ≥ 0`, `string or null`, ... */
function summary (schema: Json): string {
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Json[]).map(summary).join(' or ')
  if (Array.isArray(schema.enum)) return (schema.enum as unknown[]).map(String).join(' \\| ')
  if (schema.type === 'array') return `${summary((schema.items ?? {}) as Json)}[]`
  if (schema.type === 'string' && typeof schema.format === 'string') return schema.format
  if (schema.type === 'integer' && typeof schema.minimum === 'number') return `integer ≥ ${schema.minimum}`
  return String(schema.type ?? 'any')
}

/** The catalogue as the Markdown table of docs/events.md (a test keeps the two the same). */
export function catalogueTable (): string {
  const rows = eventTypes.map((type) => {
    const entry = catalogue[type]
    const data = plain(entry.data)
    const required = new Set((data.required ?? []) as string[])
    const fields = Object.entries((data.properties ?? {}) as Record<string, Json>)
      .map(([name, field]) => `\`${name}${required.has(name) ? '' : '?'}\` ${summary(field)}`)
    const actor = entry.actor === 'required' ? entry.actorIs
      : entry.actor === 'optional' ? `optional: ${entry.actorIs}` : 'none'
    return `| \`${type}\` | ${entry.producer} | ${entry.subject} | ${actor} | ` +
      `${fields.length === 0 ? '(none)' : fields.join(', ')} |`
  })
  return ['| type | producer | subject | actor | data |', '|---|---|---|---|---|', ...rows].join('\n')
}
