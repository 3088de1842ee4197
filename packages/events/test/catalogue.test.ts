// The catalogue, the envelope and the AsyncAPI document: every type the issue
// lists, events made only from catalogued types with matching data (refused at
// compile time and at run time), consumers' parsing, and a generated AsyncAPI
// 3.0 document that the official schema accepts.
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import specs from '@asyncapi/specs'
import { Type } from 'typebox'
import { Value } from 'typebox/value'
import {
  APPLIED_EVENTS_DDL, asyncApiDocument, catalogue, catalogueTable, consumerSettings, eventIdFloor, eventsConsumerEnv,
  eventsProducerEnv, eventTypes, InvalidEventError, makeEvent, OUTBOX_DDL, parseEvent, payloadSchema, PRODUCERS,
  relaySettings, typesOf, type EventType, type HoloEvent
} from '../src/index.js'

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

const LISTED = [
  'user.registered', 'user.email_verified', 'user.logged_in', 'user.password_changed', 'user.password_reset',
  'user.roles_changed', 'user.disabled', 'user.enabled', 'user.profile_updated', 'session.revoked',
  'role.changed', 'role.deleted',
  'card.created', 'card.updated', 'card.deleted', 'card.visibility_changed', 'card.liked', 'card.unliked',
  'card.hidden', 'card.unhidden', 'card.reported', 'card.reports_resolved', 'card.views_counted', 'template.created',
  'template.published', 'template.archived',
  'collection.created', 'collection.card_added', 'collection.card_removed', 'file.uploaded', 'file.deleted',
  'payment.succeeded', 'payment.refunded', 'entitlement.granted', 'entitlement.revoked', 'subscription.changed'
]
const PRODUCER_OF_ENTITY: Record<string, keyof typeof PRODUCERS> = {
  user: 'auth', session: 'auth', role: 'auth', card: 'card', template: 'card', collection: 'card', file: 'file',
  payment: 'billing', entitlement: 'billing', subscription: 'billing'
}

const owner = randomUUID()
const liker = randomUUID()
const card = randomUUID()
const liked = (): HoloEvent<'holo.card.liked.v1'> => makeEvent('holo.card.liked.v1', {
  subject: card, actorId: liker, data: { ownerId: owner, likeCount: 3 }, requestId: 'req-1', ip: '203.0.113.7',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
})

t.test('the catalogue holds every type the issue lists, each documented and owned by its producer', async (t) => {
  const expected = LISTED.map((n) => `holo.${n}.v1`).sort()
  t.same([...eventTypes].sort(), expected, 'exactly the listed types')
  for (const type of eventTypes) {
    const entry = catalogue[type]
    const entity = type.split('.')[1] ?? ''
    t.equal(entry.producer, PRODUCER_OF_ENTITY[entity], `${type} is published by ${entry.producer}`)
    t.ok(entry.description.length > 10 && entry.subject.length > 0 && entry.actorIs.length > 0, `${type} is documented`)
    t.equal((entry.data as { type?: string }).type, 'object', `${type} data is an object schema`)
  }
  t.same(typesOf('file'), ['holo.file.uploaded.v1', 'holo.file.deleted.v1'])
  t.same(Object.keys(catalogue['holo.user.logged_in.v1'].data.properties).sort(),
    ['ip', 'newDevice', 'sessionId', 'userAgent'])
  t.same(Object.keys(catalogue['holo.card.views_counted.v1'].data.properties).sort(), ['from', 'to', 'views'])
  t.same(Object.keys(catalogue['holo.file.uploaded.v1'].data.properties).sort(),
    ['contentType', 'ownerId', 'purpose', 'size'])
  t.ok('reason' in catalogue['holo.card.hidden.v1'].data.properties, 'card.hidden has an optional reason')
})

t.test('makeEvent builds a CloudEvents 1.0 envelope with a UUIDv7 id', async (t) => {
  const e = liked()
  t.match(e, {
    specversion: '1.0', source: 'holo-card', type: 'holo.card.liked.v1', subject: card,
    datacontenttype: 'application/json', data: { ownerId: owner, likeCount: 3 },
    requestid: 'req-1', actorid: liker, clientip: '203.0.113.7', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
  })
  t.match(e.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUIDv7')
  t.ok(Math.abs(Date.parse(e.time) - Date.now()) < 60_000 && /Z$/.test(e.time), 'an RFC 3339 time, now')
  t.notOk('subjectseq' in e, 'the sequence is given by the outbox, not by makeEvent')

  const ids = Array.from({ length: 2000 }, () => liked().id)
  t.ok(ids.every((id, i) => i === 0 || (ids[i - 1] ?? '') < id), 'ids made one after another sort in that order')
  t.ok(new Set(ids).size === ids.length, 'and are unique')
  t.ok(eventIdFloor(Date.now() - 1000) < (ids[0] ?? ''), 'the floor of an earlier millisecond sorts before them')

  const views = makeEvent('holo.card.views_counted.v1', {
    subject: card, data: { views: 12, from: new Date(0).toISOString(), to: new Date(10_000).toISOString() }
  })
  t.notOk('actorid' in views, 'no actor where the catalogue says none')
  const revoked = makeEvent('holo.session.revoked.v1', {
    subject: randomUUID(), actorId: null, data: { userId: owner, reason: 'refresh_reuse' }
  })
  t.notOk('actorid' in revoked, 'an optional actor may be absent')
  const hidden = makeEvent('holo.card.hidden.v1', {
    subject: card, actorId: liker, data: { ownerId: owner, reason: undefined }
  })
  t.same(hidden.data, { ownerId: owner }, 'data is what JSON will store (undefined fields dropped)')
})

// Never called: tsc (the package's typecheck) proves each line is refused.
export function refusedAtCompileTime (): void {
  // @ts-expect-error not a catalogued type
  makeEvent('holo.card.exploded.v1', { subject: card, actorId: liker, data: {} })
  // @ts-expect-error likeCount must be a number
  makeEvent('holo.card.liked.v1', { subject: card, actorId: liker, data: { ownerId: owner, likeCount: '3' } })
  // @ts-expect-error a field the type does not have
  makeEvent('holo.card.liked.v1', { subject: card, actorId: liker, data: { ownerId: owner, likeCount: 3, x: 1 } })
  // @ts-expect-error card.liked needs its actor
  makeEvent('holo.card.liked.v1', { subject: card, data: { ownerId: owner, likeCount: 3 } })
  // @ts-expect-error views are counted by nobody
  makeEvent('holo.card.views_counted.v1', { subject: card, actorId: liker, data: { views: 1, from: '', to: '' } })
  // @ts-expect-error user.logged_in has sessionId, ip, userAgent and newDevice
  makeEvent('holo.user.logged_in.v1', { subject: owner, actorId: owner, data: { sessionId: randomUUID() } })
}

t.test('makeEvent refuses at run time what the compiler would (callers from JavaScript, casts)', async (t) => {
  const bad = (type: string, input: object): unknown => makeEvent(type as EventType, input as never)
  const refused = (fn: () => unknown, reason: RegExp, name: string): void => {
    let thrown: unknown
    try { fn() } catch (err) { thrown = err }
    t.ok(thrown instanceof InvalidEventError && reason.test(thrown.reason), `${name}: ${String(thrown)}`)
  }
  refused(() => bad('holo.card.exploded.v1', { subject: card, data: {} }), /not a catalogued/, 'unknown type')
  refused(() => bad('holo.card.liked.v1', { subject: card, actorId: liker, data: { ownerId: 'nope', likeCount: 1 } }),
    /data\/ownerId .*uuid/, 'a field breaking its format')
  refused(() => bad('holo.card.liked.v1', { subject: card, actorId: liker, data: { ownerId: owner, likeCount: -1 } }),
    /data\/likeCount/, 'a negative count')
  refused(() => bad('holo.card.liked.v1', { subject: card, data: { ownerId: owner, likeCount: 1 } }),
    /needs an actorid/, 'a missing actor')
  refused(() => bad('holo.card.views_counted.v1', {
    subject: card, actorId: liker, data: { views: 1, from: new Date().toISOString(), to: new Date().toISOString() }
  }), /has no actor/, 'an actor where there is none')
  refused(() => bad('holo.user.logged_in.v1', { subject: owner, actorId: owner, data: { sessionId: randomUUID() } }),
    /data .*(ip|userAgent|newDevice)/, 'missing fields')
  refused(() => bad('holo.card.liked.v1', {
    subject: '', actorId: liker, data: { ownerId: owner, likeCount: 1 }
  }), /envelope\/subject/, 'an empty subject')
  refused(() => bad('holo.card.liked.v1', {
    subject: card, actorId: liker, data: { ownerId: owner, likeCount: 1 }, traceparent: 'not-a-trace'
  }), /envelope\/traceparent/, 'a malformed traceparent')
})

t.test('parseEvent gives consumers a typed event or the reason it is refused', async (t) => {
  const e = liked()
  const ok = parseEvent(JSON.stringify(e))
  t.ok(ok.ok, 'a published event parses')
  if (ok.ok && ok.event.type === 'holo.card.liked.v1') t.equal(ok.event.data.likeCount, 3, 'with typed data')
  t.ok(parseEvent(Buffer.from(JSON.stringify(e))).ok, 'from a Buffer too')
  t.ok(parseEvent({ ...e, subjectseq: 4 }).ok, 'with the outbox\'s sequence')

  const refused = (raw: unknown, reason: RegExp, name: string): void => {
    const r = parseEvent(raw)
    t.ok(!r.ok && reason.test(r.reason), `${name}: ${r.ok ? 'accepted' : r.reason}`)
  }
  refused('{not json', /not JSON/, 'not JSON')
  refused({ ...e, specversion: '0.3' }, /envelope\/specversion/, 'another CloudEvents version')
  refused({ ...e, type: 'holo.card.exploded.v1' }, /unknown event type/, 'an unknown type')
  refused({ ...e, source: 'holo-auth' }, /does not publish/, 'a producer that does not publish the type')
  refused({ ...e, data: { ownerId: owner, likeCount: 'many' } }, /data\/likeCount/, 'data breaking its schema')
  refused({ ...e, actorid: undefined }, /needs an actorid/, 'no actor')
  refused({ ...e, time: 'yesterday' }, /envelope\/time/, 'a time that is not RFC 3339')
  const r = parseEvent({ ...e, data: {} })
  t.match(r, { ok: false, id: e.id, type: e.type }, 'a refusal still names the event when it can')
})

t.test('the AsyncAPI 3.0 document describes every type on its producer\'s stream', async (t) => {
  const doc = asyncApiDocument({ streamPrefix: 'events.' }) as {
    asyncapi: string
    channels: Record<string, { address: string, messages: Record<string, unknown> }>
    operations: Record<string, { action: string }>
    components: { messages: Record<string, { name: string, summary: string, payload: object }> }
  }
  t.equal(doc.asyncapi, '3.0.0')
  t.same(Object.values(doc.channels).map((c) => c.address).sort(), ['events.auth', 'events.billing', 'events.card', 'events.file'])
  for (const type of eventTypes) {
    const message = doc.components.messages[type]
    t.ok(message !== undefined, `${type} is a message`)
    t.equal(message?.summary, catalogue[type].description, `${type} carries its description`)
    const producer = catalogue[type].producer
    t.ok(type in (doc.channels[producer]?.messages ?? {}), `${type} is on events.${producer}`)
  }
  t.equal(doc.operations['card.publish']?.action, 'send')

  const ajv = new Ajv({ allErrors: true, strict: false })
  addFormats(ajv)
  const validate = ajv.compile(specs.schemasWithoutId['3.0.0'] as object)
  t.ok(validate(doc), `the official AsyncAPI 3.0.0 schema accepts it: ${ajv.errorsText(validate.errors)}`)

  const strict = new Ajv({ allErrors: true, strict: true })
  addFormats(strict)
  for (const type of eventTypes) {
    t.doesNotThrow(() => strict.compile(payloadSchema(type)), `${type} payload compiles with ajv (strict)`)
  }
  const likedSchema = strict.compile(doc.components.messages['holo.card.liked.v1']?.payload ?? {})
  t.ok(likedSchema(liked()), 'an event made by makeEvent matches its payload schema')
  t.notOk(likedSchema({ ...liked(), type: 'holo.card.unliked.v1' }), 'another type does not')
  t.notOk(likedSchema({ ...liked(), actorid: undefined }), 'nor one without its required actor')
  t.equal(asyncApiDocument({ streamPrefix: 'test.x.' }).channels !== undefined &&
    (asyncApiDocument({ streamPrefix: 'test.x.' }) as typeof doc).channels.card?.address, 'test.x.card',
  'the prefix is configurable')
})

t.test('docs/events.md shows the catalogue and the DDL as the code has them', async (t) => {
  const doc = await readFile(new URL('../../../docs/events.md', import.meta.url), 'utf8')
  const table = /<!-- catalogue:start -->\n([\s\S]*?)\n<!-- catalogue:end -->/.exec(doc)?.[1]
  t.equal(table, catalogueTable(), 'the table is current (pnpm --filter @holo/events catalogue-table prints it)')
  // The DDL sits indented in a list item: compare line by line without the indent.
  const flat = (text: string): string => text.split('\n').map((l) => l.trim()).join('\n')
  t.ok(flat(doc).includes(flat(OUTBOX_DDL.trim())), 'the outbox DDL is the one a migration must hold')
  t.ok(flat(doc).includes(flat(APPLIED_EVENTS_DDL.trim())), 'and so is applied_events')
})

t.test('the bus\'s environment variables have safe defaults and map onto the options', async (t) => {
  const producer = Value.Parse(Type.Object(eventsProducerEnv()), Value.Default(Type.Object(eventsProducerEnv()), {}))
  t.same(relaySettings(producer), {
    streamPrefix: 'events.', retentionMs: 7 * 24 * 3600 * 1000, batchSize: 500, pollIntervalMs: 1000
  })
  const consumer = Value.Parse(Type.Object(eventsConsumerEnv()), Value.Default(Type.Object(eventsConsumerEnv()), {}))
  t.same(consumerSettings(consumer), {
    streamPrefix: 'events.', maxAttempts: 5, claimIdleMs: 30_000, batchSize: 100, concurrency: 1, lingerMs: 0
  })
})
