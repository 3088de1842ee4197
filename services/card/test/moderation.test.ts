// Reports and moderation (docs/card.md, "Reports and moderation"): reporting, the queue grouped by card, automatic
// hiding at the threshold, resolving with hide, dismiss and warn, and the events of each, against the real
// PostgreSQL and Redis.
import t from 'tap'
import { eventually, outboxEvents, streamedEvents, type PublishedEvent } from '@holo/infra/testing'
import { buildTestApp, type TestApp, type TestUser } from './helper.js'

const ZERO = '00000000-0000-4000-8000-000000000000'

/** The app's requests as one user makes them. */
function client (h: TestApp) {
  const report = async (who: TestUser | null, cardId: string, payload: object = { reason: 'spam' }) =>
    await h.app.inject({
      method: 'POST', url: `/api/v1/cards/${cardId}/reports`, headers: who?.auth ?? {}, payload
    })
  const queue = async (who: TestUser | null, query = '') =>
    await h.app.inject({ url: `/api/v1/moderation/reports${query}`, headers: who?.auth ?? {} })
  const resolve = async (who: TestUser | null, reportId: string, payload: object) =>
    await h.app.inject({
      method: 'POST', url: `/api/v1/moderation/reports/${reportId}/resolve`, headers: who?.auth ?? {}, payload
    })
  const read = async (who: TestUser | null, cardId: string) =>
    await h.app.inject({ url: `/api/v1/cards/${cardId}`, headers: who?.auth ?? {} })
  /** The ids of a listing's first page as `who` gets it. */
  const listed = async (who: TestUser | null, query: string): Promise<string[]> => {
    const res = await h.app.inject({ url: `/api/v1/cards${query}`, headers: who?.auth ?? {} })
    return (res.json().items as Array<{ id: string }>).map((c) => c.id)
  }
  const about = async (cardId: string): Promise<PublishedEvent[]> =>
    (await outboxEvents(h.db, 'card')).filter((e) => e.subject === cardId)
  return { report, queue, resolve, read, listed, about }
}

t.test('reporting a card', async (t) => {
  const h = await buildTestApp(t)
  const c = client(h)
  const owner = h.user()
  const alice = h.user()
  const card = await h.card(owner, { title: 'Reported once' })

  const res = await c.report(alice, card.id, { reason: 'copyright', note: 'My drawing' })
  t.equal(res.statusCode, 201)
  t.same(Object.keys(res.json()).sort(), ['cardId', 'id', 'reason', 'status'])
  t.match(res.json(), { cardId: card.id, reason: 'copyright', status: 'open' })
  t.match(await c.about(card.id), [{ type: 'holo.card.created.v1' }, {
    type: 'holo.card.reported.v1',
    actorid: alice.id,
    requestid: res.headers['x-request-id'],
    data: { ownerId: owner.id, reportId: res.json().id, reason: 'copyright', note: 'My drawing', openReports: 1 }
  }], 'the report is on the outbox with its reporter as actor')

  const again = await c.report(alice, card.id, { reason: 'spam' })
  t.equal(again.statusCode, 409)
  t.equal(again.json().code, 'REPORT_ALREADY_OPEN')
  t.equal(again.headers['content-type'], 'application/problem+json; charset=utf-8')

  t.equal((await c.report(null, card.id)).statusCode, 401, 'signed in only')
  const own = await c.report(owner, card.id)
  t.equal(own.statusCode, 400)
  t.equal(own.json().code, 'OWN_CARD_REPORTED')
  const bad = await c.report(alice, card.id, { reason: 'boring' })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().errors[0].field, 'reason')
  t.equal((await c.report(alice, card.id, { reason: 'spam', ownerId: alice.id })).statusCode, 400, 'no extra fields')
  t.equal((await c.report(alice, card.id, { reason: 'other', note: 'x'.repeat(1001) })).statusCode, 400)
  t.equal((await c.report(alice, ZERO)).json().code, 'CARD_NOT_FOUND')
  t.equal((await c.report(alice, 'not-a-uuid')).statusCode, 400)

  const secret = await h.card(owner, { visibility: 'private' })
  const unseen = await c.report(alice, secret.id)
  t.equal(unseen.statusCode, 404, 'a card the caller cannot see is a 404, as for a missing one')
  t.equal(unseen.json().code, 'CARD_NOT_FOUND')
  const unlisted = await h.card(owner, { visibility: 'unlisted' })
  t.equal((await c.report(alice, unlisted.id)).statusCode, 201, 'an unlisted card can be read by id, so reported')

  const hidden = await h.card(owner)
  await h.app.inject({ method: 'POST', url: `/api/v1/cards/${hidden.id as string}/hide`, headers: h.user(['moderator']).auth })
  t.equal((await c.report(alice, hidden.id)).statusCode, 404, 'a hidden card is not seen by users')
  t.equal((await c.report(h.user(['moderator']), hidden.id)).statusCode, 201, 'staff see it, and may report it')

  const deleted = await h.card(owner)
  await h.app.inject({ method: 'DELETE', url: `/api/v1/cards/${deleted.id as string}`, headers: owner.auth })
  t.equal((await c.report(alice, deleted.id)).statusCode, 404)

  const refused = (await c.about(card.id)).filter((e) => e.type === 'holo.card.reported.v1')
  t.equal(refused.length, 1, 'refused reports publish nothing')
})

t.test('concurrent duplicate reports: one 201, the rest 409, one row', async (t) => {
  const h = await buildTestApp(t, { MODERATION_AUTO_HIDE_REPORTS: '0' })
  const c = client(h)
  const card = await h.card(h.user())
  const alice = h.user()
  const answers = await Promise.all(Array.from({ length: 12 }, async () => await c.report(alice, card.id)))
  t.same(answers.map((a) => a.statusCode).sort(), [201, ...Array(11).fill(409)])
  const { rows } = await h.deps.pool.query('SELECT count(*)::int AS n FROM reports WHERE card_id = $1', [card.id])
  t.equal(rows[0].n, 1)
  t.equal((await c.about(card.id)).filter((e) => e.type === 'holo.card.reported.v1').length, 1)
})

t.test('the queue: grouped by card, oldest first report first, keyset pages', async (t) => {
  const h = await buildTestApp(t, { MODERATION_AUTO_HIDE_REPORTS: '0' })
  const c = client(h)
  const owner = h.user()
  const mod = h.user(['moderator'])
  const users = Array.from({ length: 4 }, () => h.user())
  const cards = [
    await h.card(owner, { title: 'First', holo: { effect: 'galaxy' }, rarity: 'epic' }),
    await h.card(owner, { title: 'Second' }),
    await h.card(owner, { title: 'Third' })
  ]
  const ids: string[][] = [[], [], []]
  // Reported in the order 0, 1, 0, 2, 0, 1: card 0 first, then 1, then 2.
  const plan: Array<[number, number, string]> = [[0, 0, 'spam'], [1, 0, 'nsfw'], [0, 1, 'spam'], [2, 2, 'other'],
    [0, 2, 'harassment'], [1, 3, 'nsfw']]
  for (const [card, user, reason] of plan) {
    const res = await c.report(users[user] as TestUser, cards[card]?.id, { reason, note: `${user} on ${card}` })
    t.equal(res.statusCode, 201)
    ids[card]?.push(res.json().id)
  }

  t.equal((await c.queue(null)).statusCode, 401)
  const forbidden = await c.queue(owner)
  t.equal(forbidden.statusCode, 403, 'users may not read the queue')
  t.equal(forbidden.json().code, 'FORBIDDEN')
  t.equal((await c.queue(h.user(['admin']))).statusCode, 200, 'administrators pass')

  const all = await c.queue(mod)
  t.equal(all.statusCode, 200)
  const body = all.json()
  t.same(body.items.map((g: any) => g.cardId), cards.map((x) => x.id), 'oldest first report first')
  t.equal(body.nextCursor, null)
  const first = body.items[0]
  t.match(first, {
    cardId: cards[0]?.id,
    status: 'open',
    count: 3,
    reasons: ['spam', 'harassment'],
    card: {
      title: 'First', ownerId: owner.id, hidden: false, deleted: false, visibility: 'public', rarity: 'epic',
      artworkFileId: null, holo: { effect: 'galaxy' }
    }
  })
  t.same(first.reports.map((r: any) => r.id), ids[0], 'its reports, oldest first')
  t.same(first.reports[0], {
    id: ids[0]?.[0], reason: 'spam', note: '0 on 0', reporterId: users[0]?.id, createdAt: first.firstReportedAt
  })
  t.same(body.items.map((g: any) => g.count), [3, 2, 1])

  // One group a page: three pages, then none.
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const res = await c.queue(mod, `?limit=1${cursor === null ? '' : `&cursor=${cursor}`}`)
    t.equal(res.statusCode, 200)
    const p = res.json()
    seen.push(...p.items.map((g: any) => g.cardId))
    cursor = p.nextCursor
    pages++
  } while (cursor !== null && pages < 10)
  t.same(seen, cards.map((x) => x.id), 'every group once, in order')
  t.equal(pages, 3)

  const nsfw = (await c.queue(mod, '?reason=nsfw')).json()
  t.same(nsfw.items.map((g: any) => [g.cardId, g.count, g.reasons]), [[cards[1]?.id, 2, ['nsfw']]])
  t.equal((await c.queue(mod, '?status=closed')).statusCode, 400)
  const forged = await c.queue(mod, `?cursor=${Buffer.from('["n","x","y"]').toString('base64url')}`)
  t.equal(forged.statusCode, 400)
  t.equal(forged.json().code, 'INVALID_CURSOR')
  t.same((await c.queue(mod, '?status=resolved')).json(), { items: [], nextCursor: null })

  // Resolving the middle card moves it to the resolved queue, with every one of its reports.
  const done = await c.resolve(mod, ids[1]?.[1] as string, { action: 'dismiss' })
  t.equal(done.statusCode, 200)
  t.same(done.json(), { cardId: cards[1]?.id, action: 'dismiss', resolved: 2, hidden: false })
  t.same((await c.queue(mod)).json().items.map((g: any) => g.cardId), [cards[0]?.id, cards[2]?.id])
  const resolved = (await c.queue(mod, '?status=resolved')).json()
  t.same(resolved.items.map((g: any) => [g.cardId, g.status, g.count]), [[cards[1]?.id, 'resolved', 2]])
  // A user whose report was resolved may report the card again.
  t.equal((await c.report(users[0] as TestUser, cards[1]?.id)).statusCode, 201)
})

t.test('resolve: hide, 409 when resolved, the card gone for others at once', async (t) => {
  const h = await buildTestApp(t, { MODERATION_AUTO_HIDE_REPORTS: '0' })
  const c = client(h)
  const owner = h.user()
  const mod = h.user(['moderator'])
  const admin = h.user(['admin'])
  const alice = h.user()
  const bob = h.user()
  const card = await h.card(owner, { title: 'Zanzibar spam', tags: ['zanzibar'] })
  const r1 = (await c.report(alice, card.id, { reason: 'spam' })).json()
  const r2 = (await c.report(bob, card.id, { reason: 'spam' })).json()

  // Warm every cache the card is in: its read, the newest page, a tag page and a search.
  for (const query of ['', '?tag=zanzibar', '?q=zanzibar']) t.ok((await c.listed(null, query)).includes(card.id))
  t.equal((await c.read(null, card.id)).statusCode, 200)
  t.equal((await c.read(bob, card.id)).statusCode, 200)

  t.equal((await c.resolve(null, r1.id, { action: 'hide' })).statusCode, 401)
  t.equal((await c.resolve(alice, r1.id, { action: 'hide' })).statusCode, 403, 'users may not resolve')
  const bad = await c.resolve(mod, r1.id, { action: 'ban' })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().errors[0].field, 'action')
  const missing = await c.resolve(mod, ZERO, { action: 'hide' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'REPORT_NOT_FOUND')
  t.equal((await c.about(card.id)).filter((e) => e.type !== 'holo.card.created.v1' && e.type !== 'holo.card.reported.v1').length,
    0, 'refused resolutions publish nothing')

  const res = await c.resolve(mod, r1.id, { action: 'hide', note: 'Spam' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { cardId: card.id, action: 'hide', resolved: 2, hidden: true })

  t.equal((await c.read(null, card.id)).statusCode, 404, 'gone for anonymous readers')
  t.equal((await c.read(bob, card.id)).statusCode, 404, 'and for other users')
  for (const query of ['', '?tag=zanzibar', '?q=zanzibar']) {
    t.notOk((await c.listed(null, query)).includes(card.id), `absent from /cards${query}`)
    t.notOk((await c.listed(bob, query)).includes(card.id), `absent from /cards${query} signed in`)
  }
  t.equal((await c.read(owner, card.id)).json().hidden, true, 'its owner still sees it')
  t.ok((await c.listed(owner, '?ownerId=me')).includes(card.id), 'in the owner\'s own list')
  t.equal((await c.read(mod, card.id)).statusCode, 200, 'moderators see it')
  t.equal((await c.read(admin, card.id)).statusCode, 200, 'administrators see it')

  const again = await c.resolve(mod, r2.id, { action: 'dismiss' })
  t.equal(again.statusCode, 409, 'every report of the card was resolved')
  t.equal(again.json().code, 'REPORT_ALREADY_RESOLVED')

  const events = (await c.about(card.id)).slice(3)
  t.match(events, [{
    type: 'holo.card.reports_resolved.v1',
    actorid: mod.id,
    data: { ownerId: owner.id, action: 'hide', note: 'Spam', reportIds: [r1.id, r2.id], reporterIds: [alice.id, bob.id] }
  }, {
    type: 'holo.card.hidden.v1', actorid: mod.id, data: { ownerId: owner.id, reason: 'Spam' }
  }], 'the resolution and the hide, from one transaction')
  t.equal(events.length, 2)
  t.notOk('automatic' in (events[1]?.data ?? {}), 'a moderator\'s hide is not automatic')
  t.equal(events[0]?.requestid, res.headers['x-request-id'])

  t.ok(await eventually(async () => {
    const streamed = (await streamedEvents(h.config.EVENTS_STREAM_PREFIX, 'card')).filter((e) => e.subject === card.id)
    return streamed.some((e) => e.type === 'holo.card.reports_resolved.v1') &&
      streamed.some((e) => e.type === 'holo.card.hidden.v1')
  }), 'the relay put both on the card stream')
})

t.test('resolve twice at once: one wins, the other is a 409', async (t) => {
  const h = await buildTestApp(t, { MODERATION_AUTO_HIDE_REPORTS: '0' })
  const c = client(h)
  const card = await h.card(h.user())
  const report = (await c.report(h.user(), card.id)).json()
  const mods = [h.user(['moderator']), h.user(['moderator']), h.user(['admin'])]
  const answers = await Promise.all(mods.map(async (m) => await c.resolve(m, report.id, { action: 'warn' })))
  t.same(answers.map((a) => a.statusCode).sort(), [200, 409, 409])
  t.equal((await c.about(card.id)).filter((e) => e.type === 'holo.card.reports_resolved.v1').length, 1)
})

t.test('warn: the card stays; the owner is the one told', async (t) => {
  const h = await buildTestApp(t, { MODERATION_AUTO_HIDE_REPORTS: '0' })
  const c = client(h)
  const owner = h.user()
  const card = await h.card(owner)
  const report = (await c.report(h.user(), card.id, { reason: 'harassment' })).json()
  const res = await c.resolve(h.user(['moderator']), report.id, { action: 'warn', note: 'Be kind' })
  t.same(res.json(), { cardId: card.id, action: 'warn', resolved: 1, hidden: false })
  t.equal((await c.read(null, card.id)).statusCode, 200)
  const types = (await c.about(card.id)).map((e) => e.type)
  t.same(types, ['holo.card.created.v1', 'holo.card.reported.v1', 'holo.card.reports_resolved.v1'])
})

t.test('automatic hide at MODERATION_AUTO_HIDE_REPORTS distinct reporters', async (t) => {
  const h = await buildTestApp(t, { MODERATION_AUTO_HIDE_REPORTS: '3' })
  const c = client(h)
  const owner = h.user()
  const mod = h.user(['moderator'])
  const card = await h.card(owner, { title: 'Quixotic troll', tags: ['quixotic'] })
  const reporters = Array.from({ length: 3 }, () => h.user())
  for (const query of ['', '?tag=quixotic', '?q=quixotic']) t.ok((await c.listed(null, query)).includes(card.id))

  const reports = []
  for (const [i, who] of reporters.slice(0, 2).entries()) {
    reports.push((await c.report(who, card.id, { reason: 'spam' })).json())
    t.equal((await c.read(null, card.id)).statusCode, 200, `still visible after ${i + 1} report(s)`)
  }
  t.equal((await c.report(reporters[0] as TestUser, card.id)).statusCode, 409, 'the same user twice counts once')
  t.equal((await c.read(null, card.id)).statusCode, 200)

  const third = await c.report(reporters[2] as TestUser, card.id, { reason: 'nsfw' })
  t.equal(third.statusCode, 201)
  t.equal((await c.read(null, card.id)).statusCode, 404, 'the third report hid it')
  for (const query of ['', '?tag=quixotic', '?q=quixotic']) {
    t.notOk((await c.listed(null, query)).includes(card.id), `absent from /cards${query}`)
  }
  t.equal((await c.read(owner, card.id)).json().hidden, true, 'its owner still sees it')
  t.equal((await c.read(mod, card.id)).statusCode, 200, 'staff see it')
  const events = (await c.about(card.id)).filter((e) => e.type !== 'holo.card.created.v1')
  t.match(events.map((e) => [e.type, e.actorid, e.data.openReports]), [
    ['holo.card.reported.v1', reporters[0]?.id, 1],
    ['holo.card.reported.v1', reporters[1]?.id, 2],
    ['holo.card.reported.v1', reporters[2]?.id, 3],
    ['holo.card.hidden.v1', reporters[2]?.id]
  ])
  t.same(events[3]?.data, { ownerId: owner.id, automatic: true }, 'marked automatic')
  t.equal(events[3]?.requestid, third.headers['x-request-id'], 'in the request (and transaction) of the third report')

  t.equal((await c.report(h.user(['moderator']), card.id)).statusCode, 201, 'a fourth report hides nothing more')
  t.equal((await c.about(card.id)).filter((e) => e.type === 'holo.card.hidden.v1').length, 1)

  // Dismissing the reports that hid it shows it again.
  const res = await c.resolve(mod, reports[0].id, { action: 'dismiss', note: 'Not spam' })
  t.same(res.json(), { cardId: card.id, action: 'dismiss', resolved: 4, hidden: false })
  t.equal((await c.read(null, card.id)).statusCode, 200, 'visible again')
  t.ok((await c.listed(null, '?q=quixotic')).includes(card.id))
  const last = (await c.about(card.id)).slice(-2)
  t.same(last.map((e) => [e.type, e.actorid]), [['holo.card.reports_resolved.v1', mod.id], ['holo.card.unhidden.v1', mod.id]])
})

t.test('concurrent reports past the threshold hide the card once', async (t) => {
  const h = await buildTestApp(t, { MODERATION_AUTO_HIDE_REPORTS: '3' })
  const c = client(h)
  const card = await h.card(h.user())
  const answers = await Promise.all(Array.from({ length: 8 }, async () => await c.report(h.user(), card.id)))
  t.same(answers.map((a) => a.statusCode), Array(8).fill(201))
  const events = await c.about(card.id)
  t.same(events.filter((e) => e.type === 'holo.card.reported.v1').map((e) => e.data.openReports).sort((a, b) =>
    (a as number) - (b as number)), [1, 2, 3, 4, 5, 6, 7, 8], 'each counted under the card\'s lock')
  const hidden = events.filter((e) => e.type === 'holo.card.hidden.v1')
  t.equal(hidden.length, 1, 'one hide')
  t.equal(hidden[0]?.actorid, events.find((e) => e.data.openReports === 3)?.actorid, 'by the third report')
  const { rows } = await h.deps.pool.query('SELECT count(*)::int AS n FROM reports WHERE auto_hid', [])
  t.equal(rows[0].n, 1)
  t.equal((await c.read(null, card.id)).statusCode, 404)
})
