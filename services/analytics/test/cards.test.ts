import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeEvent, type HoloEvent } from '@holo/events'
import { buildTestApp, withSeq, type TestUser } from './helper.js'

type Visibility = 'public' | 'unlisted' | 'private'
const HOUR = 3_600_000

t.test('top cards and per-card series', async (t) => {
  const ta = await buildTestApp(t, { ANALYTICS_TOP_CACHE_SECONDS: '60' })
  const admin = ta.user(['admin'])
  const now = Date.now()
  const ago = (ms: number): Date => new Date(now - ms)
  const owners = new Map<string, TestUser>()
  const events: HoloEvent[] = []

  const created = (card: string, owner: TestUser, visibility: Visibility, seq = 1): HoloEvent => withSeq(
    makeEvent('holo.card.created.v1', { subject: card, actorId: owner.id, time: ago(40 * 24 * HOUR), data: {
      ownerId: owner.id, title: 'Holo', visibility, rarity: 'common', templateId: null, artworkFileId: null
    } }), seq)
  const card = (visibility: Visibility | null): string => {
    const id = randomUUID()
    const owner = ta.user()
    owners.set(id, owner)
    if (visibility !== null) events.push(created(id, owner, visibility))
    return id
  }
  const likes = (id: string, n: number, time: Date, type: 'holo.card.liked.v1' | 'holo.card.unliked.v1' =
    'holo.card.liked.v1'): void => {
    for (let i = 0; i < n; i++) {
      events.push(makeEvent(type, {
        subject: id, actorId: randomUUID(), time, data: { ownerId: owners.get(id)?.id ?? randomUUID(), likeCount: i }
      }))
    }
  }
  const views = (id: string, n: number, to: Date): void => {
    events.push(makeEvent('holo.card.views_counted.v1', {
      subject: id, time: to, data: { views: n, from: new Date(to.getTime() - 5000).toISOString(), to: to.toISOString() }
    }))
  }
  const change = (id: string, seq: number, data: { visibility?: Visibility, hidden?: boolean }): HoloEvent => {
    const ownerId = owners.get(id)?.id ?? randomUUID()
    const actorId = ownerId
    const e = data.visibility !== undefined
      ? makeEvent('holo.card.visibility_changed.v1', {
        subject: id, actorId, data: { ownerId, visibility: data.visibility, previousVisibility: 'public' }
      })
      : makeEvent(data.hidden === true ? 'holo.card.hidden.v1' : 'holo.card.unhidden.v1', {
        subject: id, actorId: admin.id, data: { ownerId }
      })
    return withSeq(e, seq)
  }

  const p1 = card('public')
  likes(p1, 4, ago(60_000))
  likes(p1, 1, ago(30_000), 'holo.card.unliked.v1')
  views(p1, 10, ago(1000))
  const p2 = card('public')
  likes(p2, 2, ago(3 * 24 * HOUR))
  views(p2, 100, ago(10 * 24 * HOUR))
  views(p2, 1000, ago(40 * 24 * HOUR))
  const priv = card('private')
  likes(priv, 5, ago(HOUR))
  const unlisted = card('unlisted')
  likes(unlisted, 4, ago(HOUR))
  const hidden = card('public')
  events.push(change(hidden, 2, { hidden: true }))
  likes(hidden, 6, ago(HOUR))
  const deleted = card('public')
  likes(deleted, 7, ago(HOUR))
  events.push(makeEvent('holo.card.deleted.v1', {
    subject: deleted, actorId: owners.get(deleted)?.id ?? '', data: { ownerId: owners.get(deleted)?.id ?? '' }
  }))
  // Out of order: the newest state (private, seq 3) arrives before an older one (public, seq 2).
  const stale = card('public')
  events.push(change(stale, 3, { visibility: 'private' }), change(stale, 2, { visibility: 'public' }))
  likes(stale, 8, ago(HOUR))
  // Unhidden (seq 3) arrives before hidden (seq 2): it stays visible.
  const unhidden = card('public')
  events.push(change(unhidden, 3, { hidden: false }), change(unhidden, 2, { hidden: true }))
  likes(unhidden, 1, ago(2 * HOUR))
  // Known only from its view counts: its visibility is unknown, so it is not listed publicly.
  const unknown = card(null)
  views(unknown, 50, ago(1000))

  await ta.publish(...events)
  await ta.drained()

  const top = async (query: string, who?: TestUser): Promise<Array<[string, number]>> => {
    const res = await ta.app.inject({ url: `/api/v1/analytics/cards/top?${query}`, headers: who?.headers ?? {} })
    t.equal(res.statusCode, 200, query)
    return (res.json().items as Array<{ cardId: string, value: number }>).map((i) => [i.cardId, i.value])
  }

  t.test('public top lists leave out private, unlisted, hidden, deleted and unknown cards', async (t) => {
    t.same(await top('metric=likes&window=24h'), [[p1, 3], [unhidden, 1]], 'likes net of unlikes, last 24 hours')
    t.same(await top('metric=likes&window=7d'), [[p1, 3], [p2, 2], [unhidden, 1]])
    t.same(await top('metric=views&window=24h'), [[p1, 10]])
    t.same(await top('metric=views&window=30d'), [[p2, 100], [p1, 10]], 'views older than the window do not count')
    t.same(await top('metric=likes&window=7d&limit=1'), [[p1, 3]])
    t.same(await top('metric=likes&window=24h', ta.user()), [[p1, 3], [unhidden, 1]], 'signed-in users too')
    const res = await ta.app.inject({ url: '/api/v1/analytics/cards/top' })
    t.equal(res.headers.vary, 'Authorization')
    t.same(res.json().items.map((i: { cardId: string }) => i.cardId), [p1, p2, unhidden], 'default: likes, 7d')
  })

  t.test('administrators see every card', async (t) => {
    t.same(await top('metric=likes&window=24h', admin), [
      [stale, 8], [deleted, 7], [hidden, 6], [priv, 5], [unlisted, 4], [p1, 3], [unhidden, 1]
    ])
    t.same(await top('metric=views&window=24h', admin), [[unknown, 50], [p1, 10]])
  })

  t.test('top lists are cached briefly', async (t) => {
    const before = events.length
    likes(p1, 5, new Date())
    await ta.publish(...events.slice(before))
    await ta.drained()
    t.same(await top('metric=likes&window=24h'), [[p1, 3], [unhidden, 1]], 'the cached list (60 s)')
    const keys = await ta.deps.redis.keys(`${ta.config.CACHE_PREFIX}top:*`)
    t.ok(keys.length > 0)
    await ta.deps.redis.del(...keys)
    t.same(await top('metric=likes&window=24h'), [[p1, 8], [unhidden, 1]], 'recomputed once expired')
  })

  t.test('per-card series: owner and admin; others 404; anonymous 401', async (t) => {
    const url = `/api/v1/analytics/cards/${p1}`
    const owner = owners.get(p1) as TestUser
    const mine = await ta.app.inject({ url, headers: owner.headers })
    t.equal(mine.statusCode, 200)
    const body = mine.json()
    t.equal(body.cardId, p1)
    t.equal(body.views.length, 30, 'the last 30 days by day')
    t.same(body.totals, { views: 10, likes: 8 })
    t.equal(body.views[29].value, 10)
    t.equal(body.likes[29].value + (body.likes[28]?.value ?? 0), 8, 'likes net of unlikes')
    const hourly = (await ta.app.inject({ url: `${url}?granularity=hour`, headers: admin.headers })).json()
    t.equal(hourly.views.length, 48)
    t.same(hourly.totals, { views: 10, likes: 8 }, 'an administrator')
    const old = (await ta.app.inject({
      url: `/api/v1/analytics/cards/${p2}?granularity=day&from=${ago(45 * 24 * HOUR).toISOString()}`,
      headers: owners.get(p2)?.headers
    })).json()
    t.same(old.totals, { views: 1100, likes: 2 })

    const other = await ta.app.inject({ url, headers: ta.user().headers })
    t.equal(other.statusCode, 404)
    t.equal(other.json().code, 'CARD_NOT_FOUND')
    t.equal((await ta.app.inject({ url })).statusCode, 401)
    const gone = `/api/v1/analytics/cards/${deleted}`
    t.equal((await ta.app.inject({ url: gone, headers: owners.get(deleted)?.headers })).statusCode, 404,
      'a deleted card is gone for its owner')
    t.equal((await ta.app.inject({ url: gone, headers: admin.headers })).statusCode, 200, 'not for an admin')
    const never = await ta.app.inject({ url: `/api/v1/analytics/cards/${randomUUID()}`, headers: admin.headers })
    t.equal(never.statusCode, 404)
  })

  t.test('bad input is a 400 problem', async (t) => {
    const cases: Array<[string, string]> = [
      ['/api/v1/analytics/cards/not-a-uuid', 'id'],
      [`/api/v1/analytics/cards/${p1}?granularity=minute`, 'granularity'],
      [`/api/v1/analytics/cards/${p1}?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z`, 'from'],
      [`/api/v1/analytics/cards/${p1}?granularity=hour&from=2020-01-01T00:00:00Z`, 'from'],
      ['/api/v1/analytics/cards/top?metric=shares', 'metric'],
      ['/api/v1/analytics/cards/top?window=1y', 'window'],
      ['/api/v1/analytics/cards/top?limit=0', 'limit'],
      ['/api/v1/analytics/cards/top?limit=1000', 'limit']
    ]
    for (const [url, field] of cases) {
      const res = await ta.app.inject({ url, headers: admin.headers })
      t.equal(res.statusCode, 400, url)
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      t.ok((res.json().errors as Array<{ field: string }>).some((e) => e.field.includes(field)), `${url}: ${field}`)
    }
  })
})
