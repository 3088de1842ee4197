// GET /api/v1/audit/events: filters (actor, subject, type with and without version, from/to), newest first,
// keyset paging, input errors as 400 problems, and who may read what.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeEvent, type EventType, type HoloEvent, type MakeEventInput } from '@holo/events'
import { buildTestApp, eventually, get } from './helper.js'

type Producer = 'auth' | 'card' | 'file'

const ta = await buildTestApp(t)
const admin = ta.user(['admin'])
const moderator = ta.user(['moderator'])
const alice = randomUUID()
const owner = { ownerId: alice }
const bob = randomUUID()
const card = randomUUID()
const base = Date.UTC(2026, 5, 1, 12, 0, 0)
const at = (minutes: number): Date => new Date(base + minutes * 60_000)

const png = { size: 10, contentType: 'image/png' }
const created = { title: 'Holo', visibility: 'public', rarity: 'rare', templateId: null, artworkFileId: null } as const
const on = <T extends EventType>(producer: Producer, type: T, input: MakeEventInput<T>): {
  producer: Producer
  event: HoloEvent
} => ({ producer, event: makeEvent(type, input) as HoloEvent })

// Ten events, one a minute from 12:00, across producers, actors and types.
const events = [
  on('auth', 'holo.user.registered.v1', {
    subject: alice, actorId: alice, time: at(0), data: { email: 'a@example.com', username: 'alice' }
  }),
  on('card', 'holo.card.created.v1', { subject: card, actorId: alice, time: at(1), data: { ...owner, ...created } }),
  on('card', 'holo.card.liked.v1', { subject: card, actorId: bob, time: at(2), data: { ...owner, likeCount: 1 } }),
  on('card', 'holo.card.unliked.v1', { subject: card, actorId: bob, time: at(3), data: { ...owner, likeCount: 0 } }),
  on('card', 'holo.card.liked.v1', { subject: card, actorId: bob, time: at(4), data: { ...owner, likeCount: 1 } }),
  on('card', 'holo.card.hidden.v1', { subject: card, actorId: bob, time: at(5), data: { ...owner, reason: 'x' } }),
  on('file', 'holo.file.uploaded.v1', {
    subject: randomUUID(), actorId: alice, time: at(6), data: { ownerId: alice, ...png }
  }),
  on('card', 'holo.card.unhidden.v1', { subject: card, actorId: bob, time: at(7), data: owner }),
  on('card', 'holo.card.liked.v1', {
    subject: randomUUID(), actorId: alice, time: at(8), data: { ownerId: bob, likeCount: 5 }
  }),
  on('auth', 'holo.session.revoked.v1', { subject: randomUUID(), time: at(9), data: { userId: alice, reason: 'x' } })
]
for (const { producer, event } of events) await ta.publish(producer, event)
t.ok(await eventually(async () => await ta.logCount() === events.length), 'all logged')

const newestFirst = [...events].reverse().map((e) => e.event.id)
const ids = async (query: string, who = admin): Promise<string[]> => {
  const res = await get(ta, `/api/v1/audit/events${query}`, who)
  if (res.status !== 200) throw new Error(`${query}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.items.map((i: { id: string }) => i.id)
}
const pick = (f: (e: HoloEvent) => boolean): string[] =>
  [...events].reverse().map((e) => e.event).filter(f).map((e) => e.id)

t.test('all, newest first', async (t) => {
  t.same(await ids(''), newestFirst)
})

t.test('actorId and subject', async (t) => {
  t.same(await ids(`?actorId=${bob}`), pick((e) => e.actorid === bob))
  t.same(await ids(`?actorId=${alice.toUpperCase()}`), pick((e) => e.actorid === alice), 'any case')
  t.same(await ids(`?subject=${card}`), pick((e) => e.subject === card))
  t.same(await ids(`?subject=${card}&actorId=${alice}`), pick((e) => e.subject === card && e.actorid === alice))
  t.same(await ids(`?actorId=${randomUUID()}`), [])
})

t.test('type with and without its version', async (t) => {
  const liked = pick((e) => e.type === 'holo.card.liked.v1')
  t.equal(liked.length, 3)
  t.same(await ids('?type=holo.card.liked.v1'), liked)
  t.same(await ids('?type=holo.card.liked'), liked)
  t.same(await ids('?type=holo.card.liked.v2'), [])
  t.same(await ids('?type=holo.card.like'), [], 'a name is matched whole, not as a prefix')
  t.same(await ids(`?type=holo.card.liked&subject=${card}`),
    pick((e) => e.type === 'holo.card.liked.v1' && e.subject === card))
  for (const bad of ['holo.card', 'card.liked', 'holo.card.liked.v', 'holo.card.liked.v1%25']) {
    const res = await get(ta, `/api/v1/audit/events?type=${bad}`, admin)
    t.equal(res.status, 400, bad)
    t.equal(res.body.code, 'VALIDATION_FAILED')
  }
})

t.test('from is inclusive, to exclusive, on the event\'s time', async (t) => {
  const iso = (m: number): string => at(m).toISOString()
  t.same(await ids(`?from=${iso(3)}&to=${iso(6)}`), newestFirst.slice(4, 7))
  t.same(await ids(`?from=${iso(8)}`), newestFirst.slice(0, 2))
  t.same(await ids(`?to=${iso(1)}`), newestFirst.slice(9))
  t.same(await ids(`?from=${iso(4)}&to=${iso(4)}`), [], 'an empty range')
  // The same instant written with an offset, and with more digits than the log keeps.
  t.same(await ids('?from=2026-06-01T14:03:00%2B02:00&to=2026-06-01T12:06:00.000000Z'), newestFirst.slice(4, 7))
  t.same(await ids('?from=2026-06-01T12:02:59.9991Z&to=2026-06-01T12:03:00.0001Z'), newestFirst.slice(6, 7),
    'sub-millisecond bounds round up to the next millisecond')
})

t.test('bad times are 400 problems', async (t) => {
  for (const [query, field] of [
    ['from=yesterday', 'from'],
    ['to=2026-06-01', 'to'],
    ['from=2026-13-01T00:00:00Z', 'from'],
    ['to=2026-06-01T23:59:60Z', 'to'],
    ['from=0000-01-01T00:00:00Z', 'from']
  ] as const) {
    const res = await ta.app.inject({ url: `/api/v1/audit/events?${query}`, headers: admin.headers })
    t.equal(res.statusCode, 400, query)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.match(res.json().errors, [{ field, in: 'querystring' }], query)
  }
  const reversed = await get(ta, `/api/v1/audit/events?from=${at(5).toISOString()}&to=${at(4).toISOString()}`, admin)
  t.equal(reversed.status, 400)
  t.equal(reversed.body.code, 'INVALID_TIME_RANGE')
})

t.test('keyset paging', async (t) => {
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const q: string = cursor === null ? '?limit=3' : `?limit=3&cursor=${encodeURIComponent(cursor)}`
    const res = await get(ta, `/api/v1/audit/events${q}`, admin)
    t.equal(res.status, 200)
    t.ok(res.body.items.length <= 3)
    seen.push(...res.body.items.map((i: { id: string }) => i.id))
    cursor = res.body.nextCursor
    pages++
  } while (cursor !== null && pages < 10)
  t.equal(pages, 4)
  t.same(seen, newestFirst, 'every row once, in order')

  // A cursor continues under the filters it is used with.
  const first = await get(ta, `/api/v1/audit/events?limit=1&actorId=${bob}`, admin)
  const next = await get(ta, `/api/v1/audit/events?limit=10&actorId=${bob}&cursor=${first.body.nextCursor}`, admin)
  t.same([...first.body.items, ...next.body.items].map((i: { id: string }) => i.id), pick((e) => e.actorid === bob))
  t.equal(next.body.nextCursor, null)

  t.same(await ids('?limit=100'), newestFirst)
  for (const limit of ['0', '101', '-1', 'x']) {
    t.equal((await get(ta, `/api/v1/audit/events?limit=${limit}`, admin)).status, 400, `limit=${limit}`)
  }
  const other = Buffer.from(JSON.stringify(['t', at(1).toISOString(), randomUUID()])).toString('base64url')
  const forged = Buffer.from(JSON.stringify(['a', 'not a time', randomUUID()])).toString('base64url')
  for (const cursor of ['garbage', other, forged, 'x'.repeat(513)]) {
    const res = await get(ta, `/api/v1/audit/events?cursor=${cursor}`, admin)
    t.equal(res.status, 400)
    t.equal(res.body.code, cursor.length > 512 ? 'VALIDATION_FAILED' : 'INVALID_CURSOR')
  }
})

t.test('who may read: admin all, moderator moderation events only, user 403, anonymous 401', async (t) => {
  const moderation = pick((e) => e.type === 'holo.card.hidden.v1' || e.type === 'holo.card.unhidden.v1')
  t.equal(moderation.length, 2)
  t.same(await ids('', moderator), moderation)
  t.same(await ids('?type=holo.card.hidden', moderator), pick((e) => e.type === 'holo.card.hidden.v1'))
  t.same(await ids('?type=holo.card.liked.v1', moderator), [], 'other types are not there for a moderator')
  t.same(await ids(`?actorId=${alice}`, moderator), [])
  const firstPage = await get(ta, '/api/v1/audit/events?limit=1', moderator)
  t.same(await ids(`?cursor=${firstPage.body.nextCursor}`, moderator), moderation.slice(1))

  const user = await get(ta, '/api/v1/audit/events', ta.user())
  t.equal(user.status, 403)
  t.equal(user.body.code, 'FORBIDDEN')
  t.equal((await get(ta, '/api/v1/audit/events', ta.user(['creator']))).status, 403)
  const anonymous = await get(ta, '/api/v1/audit/events')
  t.equal(anonymous.status, 401)
  t.equal(anonymous.body.code, 'UNAUTHORIZED')
  const badToken = await ta.app.inject({ url: '/api/v1/audit/events', headers: { authorization: 'Bearer nope' } })
  t.equal(badToken.statusCode, 401)
})

t.test('report events are moderation events: a moderator reads them', async (t) => {
  const reported = randomUUID()
  const more = [
    on('card', 'holo.card.reported.v1', {
      subject: reported, actorId: alice, time: at(20), data: { ownerId: bob, reportId: randomUUID(), reason: 'spam', openReports: 1 }
    }),
    on('card', 'holo.card.reports_resolved.v1', {
      subject: reported,
      actorId: bob,
      time: at(21),
      data: { ownerId: bob, action: 'warn', reportIds: [randomUUID()], reporterIds: [alice] }
    })
  ]
  for (const { producer, event } of more) await ta.publish(producer, event)
  t.ok(await eventually(async () => await ta.logCount() === events.length + more.length), 'logged')
  t.same(await ids(`?subject=${reported}`, moderator), more.map((e) => e.event.id).reverse())
  t.same(await ids('?type=holo.card.reports_resolved', moderator), [more[1]?.event.id])
})
