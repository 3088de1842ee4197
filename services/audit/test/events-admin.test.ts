// The bus's admin API served by audit: consumer groups' positions, dead letters listed, paged and replayed; a
// poison event dead-lettered by a real consumer group shows up and, replayed after the fix, is applied.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeEvent, startConsumer, type HoloEvent } from '@holo/events'
import { buildTestApp, eventually, get, type TestApp, type TestUser } from './helper.js'

type Answer = { status: number, body: Record<string, any> }
const post = async (ta: TestApp, url: string, who?: TestUser): Promise<Answer> => {
  const res = await ta.app.inject({ method: 'POST', url, headers: who?.headers ?? {} })
  return { status: res.statusCode, body: res.json() }
}

const liked = (): HoloEvent => makeEvent('holo.card.liked.v1', {
  subject: randomUUID(), actorId: randomUUID(), data: { ownerId: randomUUID(), likeCount: 1 }
})

t.test('a poison event of a group: listed, replayed after the fix, applied; the groups\' figures', async (t) => {
  const ta = await buildTestApp(t)
  const admin = ta.user(['admin'])
  const poison = liked()
  const good = liked()
  let fixed = false
  const appliedIds: string[] = []
  const consumer = await startConsumer({
    redis: ta.redis,
    streams: [`${ta.prefix}card`],
    streamPrefix: ta.prefix,
    group: 'poison',
    maxAttempts: 2,
    backoff: () => 20,
    handle: async (event) => {
      if (event.id === poison.id && !fixed) throw new Error('the effect fails on this one')
      appliedIds.push(event.id)
    }
  })
  t.teardown(async () => { await consumer.stop() })
  await ta.publish('card', poison)
  await ta.publish('card', good)

  let list: Record<string, any> = {}
  t.ok(await eventually(async () => {
    list = (await get(ta, '/api/v1/events/dead-letters?group=poison', admin)).body
    return list.items?.length === 1 && appliedIds.includes(good.id)
  }), 'dead-lettered while the next event flowed')
  const [dead] = list.items
  t.match(dead, {
    group: 'poison',
    stream: `${ta.prefix}card`,
    eventId: poison.id,
    type: 'holo.card.liked.v1',
    attempts: 2,
    error: 'the effect fails on this one',
    event: { id: poison.id, type: 'holo.card.liked.v1' }
  })
  t.match(dead.id, /^\d+-\d+$/)
  t.equal(list.nextCursor, null)

  const groups = (await get(ta, '/api/v1/events/consumers', admin)).body.groups as Array<Record<string, any>>
  t.same(groups.map((g) => g.group), ['audit', 'poison'])
  const poisonGroup = groups.find((g) => g.group === 'poison')
  t.match(poisonGroup, { deadLetters: 1, lag: 0, pending: 0 })
  t.match(poisonGroup?.streams, [{ stream: `${ta.prefix}card`, length: 2, lag: 0, pending: 0, consumers: 1 }])
  t.match(groups.find((g) => g.group === 'audit'), { deadLetters: 0 })
  t.equal(groups.find((g) => g.group === 'audit')?.streams.length, 5, 'auth, card, file, billing and its replay stream')

  fixed = true
  const replay = await post(ta, `/api/v1/events/dead-letters/${dead.id as string}/replay?group=poison`, admin)
  t.equal(replay.status, 200)
  t.same(replay.body, { replayed: 1 })
  t.ok(await eventually(() => appliedIds.includes(poison.id)), 'applied after the replay')
  t.same((await get(ta, '/api/v1/events/dead-letters?group=poison', admin)).body.items, [])

  const again = await post(ta, `/api/v1/events/dead-letters/${dead.id as string}/replay?group=poison`, admin)
  t.equal(again.status, 404)
  t.equal(again.body.code, 'DEAD_LETTER_NOT_FOUND')
  t.equal((await post(ta, '/api/v1/events/dead-letters/1-0/replay', admin)).status, 404, 'unknown id, any group')
  t.equal((await post(ta, '/api/v1/events/dead-letters/1-0/replay?group=nobody', admin)).status, 404)
  const badId = await post(ta, '/api/v1/events/dead-letters/not-an-id/replay', admin)
  t.equal(badId.status, 400)
  t.equal(badId.body.code, 'VALIDATION_FAILED')
})

t.test('the audit group\'s own dead letters: paged, replayed all at once', async (t) => {
  const ta = await buildTestApp(t)
  const admin = ta.user(['admin'])
  const broken = (n: number): string => JSON.stringify({ ...liked(), data: { likeCount: n } })
  for (let i = 0; i < 3; i++) await ta.publish('card', broken(i))
  t.ok(await eventually(async () => await ta.redis.xlen(`${ta.prefix}dead.audit`) === 3))

  const first = await get(ta, '/api/v1/events/dead-letters?group=audit&limit=2', admin)
  t.equal(first.status, 200)
  t.equal(first.body.items.length, 2)
  t.match(first.body.items[0].error, /ownerId/)
  const second = await get(ta, `/api/v1/events/dead-letters?group=audit&limit=2&cursor=${first.body.nextCursor}`, admin)
  t.equal(second.body.items.length, 1)
  t.equal(second.body.nextCursor, null)
  const all = [...first.body.items, ...second.body.items].map((d: { id: string }) => d.id)
  t.equal(new Set(all).size, 3)

  const otherGroup = await get(ta, `/api/v1/events/dead-letters?group=poison&cursor=${first.body.nextCursor}`, admin)
  t.equal(otherGroup.status, 400, 'a cursor belongs to its group')
  t.equal(otherGroup.body.code, 'INVALID_CURSOR')
  t.equal((await get(ta, '/api/v1/events/dead-letters?group=audit&cursor=zzz', admin)).body.code, 'INVALID_CURSOR')
  t.equal((await get(ta, '/api/v1/events/dead-letters', admin)).status, 400, 'group is required')
  t.equal((await get(ta, '/api/v1/events/dead-letters?group=a%20b', admin)).status, 400)
  t.equal((await get(ta, '/api/v1/events/dead-letters?group=audit&limit=101', admin)).status, 400)

  const replayed = await post(ta, '/api/v1/events/dead-letters/replay?group=audit', admin)
  t.same(replayed.body, { replayed: 3 })
  // Still broken: the group reads them from its replay stream and dead-letters them again, under new ids.
  t.ok(await eventually(async () => {
    const items = (await get(ta, '/api/v1/events/dead-letters?group=audit', admin)).body.items as Array<{ id: string }>
    return items.length === 3 && items.every((d) => !all.includes(d.id))
  }))
  t.equal(await ta.logCount(), 0, 'nothing invalid was logged')
  t.same((await post(ta, '/api/v1/events/dead-letters/replay?group=nobody', admin)).body, { replayed: 0 })
  t.equal((await post(ta, '/api/v1/events/dead-letters/replay', admin)).status, 400, 'group is required')
})

t.test('an id in several groups\' dead letters needs the group', async (t) => {
  const ta = await buildTestApp(t)
  const admin = ta.user(['admin'])
  const consumer = await startConsumer({
    redis: ta.redis, streams: [`${ta.prefix}card`], streamPrefix: ta.prefix, group: 'other', handle: async () => {}
  })
  t.teardown(async () => { await consumer.stop() })
  await ta.publish('card', liked())
  // Two groups whose dead-letter streams happen to hold the same entry id.
  for (const group of ['audit', 'other']) {
    await ta.redis.xadd(`${ta.prefix}dead.${group}`, '5-1', 'event', '{}', 'stream', `${ta.prefix}card`,
      'entry', '1-1', 'group', group, 'consumer', 'c', 'attempts', '1', 'error', 'x', 'failedAt', 'now')
  }
  t.ok(await eventually(async () => (await get(ta, '/api/v1/events/consumers', admin)).body.groups?.length === 2))
  const ambiguous = await post(ta, '/api/v1/events/dead-letters/5-1/replay', admin)
  t.equal(ambiguous.status, 409)
  t.equal(ambiguous.body.code, 'DEAD_LETTER_AMBIGUOUS')
  t.same((await post(ta, '/api/v1/events/dead-letters/5-1/replay?group=other', admin)).body, { replayed: 1 })
  t.equal(await ta.redis.xlen(`${ta.prefix}replay.other`), 1)
})

t.test('the bus\'s admin API is for administrators only', async (t) => {
  const ta = await buildTestApp(t, { EVENTS_CONSUMER_ENABLED: 'false' })
  for (const [method, url] of [
    ['GET', '/api/v1/events/consumers'],
    ['GET', '/api/v1/events/dead-letters?group=audit'],
    ['POST', '/api/v1/events/dead-letters/1-1/replay'],
    ['POST', '/api/v1/events/dead-letters/replay?group=audit']
  ] as const) {
    for (const [who, status] of [[ta.user(['moderator']), 403], [ta.user(), 403], [undefined, 401]] as const) {
      const res = await ta.app.inject({ method, url, headers: who?.headers ?? {} })
      t.equal(res.statusCode, status, `${method} ${url} ${who === undefined ? 'anonymous' : 'non-admin'}`)
    }
  }
  t.same((await get(ta, '/api/v1/events/consumers', ta.user(['admin']))).body, { groups: [] }, 'no consumer yet')
})
