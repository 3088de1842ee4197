import { spawn } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'
import { freePort } from '@holo/infra/testing'
import { CardRepository } from '../src/modules/cards/cards.repository.js'
import { buildTestApp } from './helper.js'

/** cache_requests_total{cache, result}: the shared cache counter. */
const counter = async (
  app: { metrics: { getSingleMetricAsString: (n: string) => Promise<string> } },
  result: 'hit' | 'miss',
  cache: string
): Promise<number> => {
  const text = await app.metrics.getSingleMetricAsString('cache_requests_total')
  const m = new RegExp(`cache="${cache}",result="${result}"[^}]*\\} (\\d+)`).exec(text)
  return m === null ? 0 : Number(m[1])
}

// One app for the cache tests (each uses its own owner and cards); the Redis-down test has its own.
// Pages missing a new card refresh after 50 ms here (1 s by default), so tests wait briefly.
const h = await buildTestApp(t, { LIST_CACHE_REFRESH_MS: '50' })

/** Polls `read` until it gives `expected` (bounded: about 3 s), and returns the last value. */
async function eventually<T> (read: () => Promise<T>, expected: T): Promise<T> {
  let last = await read()
  for (let i = 0; i < 150 && JSON.stringify(last) !== JSON.stringify(expected); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    last = await read()
  }
  return last
}

t.test('cache: hits, and every write is visible to the next read', async (t) => {
  const { app } = h
  const owner = h.user()
  const card = await h.card(owner, { title: 'Before' })
  const url = `/api/v1/cards/${card.id as string}`

  const hits = await counter(app, 'hit', 'card')
  await app.inject({ url })
  const second = await app.inject({ url })
  t.equal(second.json().title, 'Before')
  t.equal(await counter(app, 'hit', 'card'), hits + 1, 'second read is a cache hit')

  await app.inject({ method: 'PATCH', url, headers: owner.auth, payload: { title: 'After' } })
  t.equal((await app.inject({ url })).json().title, 'After', 'update invalidates')

  await app.inject({ method: 'PATCH', url, headers: owner.auth, payload: { visibility: 'private' } })
  t.equal((await app.inject({ url })).statusCode, 404, 'visibility change invalidates')
  await app.inject({ method: 'PATCH', url, headers: owner.auth, payload: { visibility: 'public' } })
  t.equal((await app.inject({ url })).statusCode, 200)

  await app.inject({ method: 'PUT', url: `${url}/like`, headers: h.user().auth })
  t.equal((await app.inject({ url })).json().likeCount, 1, 'like invalidates')

  await app.inject({ method: 'DELETE', url, headers: owner.auth })
  t.equal((await app.inject({ url })).statusCode, 404, 'delete invalidates')
})

t.test('cache: first pages of public listings', async (t) => {
  const { app } = h
  const owner = h.user()
  const a = await h.card(owner, { title: 'Alpha' })
  const list = async (q = ''): Promise<string[]> =>
    (await app.inject({ url: `/api/v1/cards?ownerId=${owner.id}${q.replace('?', '&')}` })).json().items
      .map((c: { title: string }) => c.title)

  t.same(await list(), ['Alpha'])
  const hits = await counter(app, 'hit', 'card_list')
  t.same(await list(), ['Alpha'])
  t.equal(await counter(app, 'hit', 'card_list'), hits + 1)

  await h.card(owner, { title: 'Beta' })
  t.same(await eventually(list, ['Beta', 'Alpha']), ['Beta', 'Alpha'], 'a new card shows once its pages refresh')
  await h.card(owner, { title: 'Gamma', visibility: 'private' })
  t.same(await list(), ['Beta', 'Alpha'])
  const cachedHits = await counter(app, 'hit', 'card_list')
  await app.inject({ method: 'PUT', url: `/api/v1/cards/${a.id as string}/like`, headers: h.user().auth })
  t.same(await list(), ['Beta', 'Alpha'])
  t.equal(await counter(app, 'hit', 'card_list'), cachedHits + 1, 'a like leaves list pages cached')
  t.equal(
    (await app.inject({ url: `/api/v1/cards/${a.id as string}` })).json().likeCount,
    1,
    'the card shows it at once'
  )
  t.same(await list('?sort=popular'), ['Alpha', 'Beta'])
  t.same(await list('?q=alpha'), ['Alpha'])
  await app.inject({
    method: 'PATCH',
    url: `/api/v1/cards/${a.id as string}`,
    headers: owner.auth,
    payload: { title: 'Omega' }
  })
  t.same(await list('?q=alpha'), [], 'search results follow edits')
  await app.inject({ method: 'POST', url: `/api/v1/cards/${a.id as string}/hide`, headers: h.user(['moderator']).auth })
  t.same(await list(), ['Beta'], 'hide removes from lists at once')
  await app.inject({
    method: 'PATCH',
    url: `/api/v1/cards/${a.id as string}`,
    headers: owner.auth,
    payload: { visibility: 'unlisted' }
  })
  await app.inject({
    method: 'POST',
    url: `/api/v1/cards/${a.id as string}/unhide`,
    headers: h.user(['moderator']).auth
  })
  t.same(await list(), ['Beta'], 'unlisted never listed')
})


t.test('cache: a cached first page serves signed-in callers too, each with their own likedByMe', async (t) => {
  const { app } = h
  const owner = h.user()
  const fan = h.user()
  const other = h.user()
  const [x, y] = [await h.card(owner, { title: 'Xi' }), await h.card(owner, { title: 'Ypsilon' })]
  await app.inject({ method: 'PUT', url: `/api/v1/cards/${x.id as string}/like`, headers: fan.auth })
  const url = `/api/v1/cards?ownerId=${owner.id}`
  const likedBy = async (headers: Record<string, string> = {}): Promise<Record<string, unknown>> => {
    const res = await app.inject({ url, headers })
    t.equal(res.headers['cache-control'], Object.keys(headers).length === 0 ? 'public, no-cache' : 'private, no-cache')
    return Object.fromEntries(res.json().items.map((c: { title: string, likedByMe?: boolean }) =>
      [c.title, c.likedByMe]))
  }

  t.same(await likedBy(), { Ypsilon: undefined, Xi: undefined }, 'anonymous: no likedByMe; this fills the cache')
  const hits = await counter(app, 'hit', 'card_list')
  t.same(await likedBy(fan.auth), { Ypsilon: false, Xi: true })
  t.same(await likedBy(other.auth), { Ypsilon: false, Xi: false })
  t.same(await likedBy(), { Ypsilon: undefined, Xi: undefined }, 'the shared entry never holds a caller\'s likes')
  t.equal(await counter(app, 'hit', 'card_list'), hits + 3, 'all three from the cache')

  const tags = await Promise.all([fan, other].map(async (u) =>
    (await app.inject({ url, headers: u.auth })).headers.etag as string))
  t.not(tags[0], tags[1], 'callers liking different cards get different ETags for the same page')
  const shared = (await app.inject({ url })).headers.etag as string
  t.match(shared, /^"[\w-]{22}"$/, 'a page\'s ETag is its hash')
  t.equal(tags[0], `${shared.slice(0, -1)}.01"`, 'plus one bit per card for a signed-in caller')
  const again = await app.inject({ url, headers: { ...fan.auth, 'if-none-match': tags[0] as string } })
  t.equal(again.statusCode, 304)

  await app.inject({ method: 'PUT', url: `/api/v1/cards/${y.id as string}/like`, headers: other.auth })
  t.same(await likedBy(other.auth), { Ypsilon: true, Xi: false }, 'a like shows at once for its author')
  t.equal((await app.inject({
    url,
    headers: { ...other.auth, 'if-none-match': tags[1] as string }
  })).statusCode, 200, 'and changes the ETag')
  t.same(await likedBy(fan.auth), { Ypsilon: false, Xi: true })
})
t.test('cache: a reader that read before a write cannot fill the cache after it', async (t) => {
  const owner = h.user()
  const card = await h.card(owner, { title: 'Old' })
  const url = `/api/v1/cards/${card.id as string}`
  // Simulate the slow reader: it reads the generation, the write lands, then it fills.
  const { CardCache } = await import('../src/modules/cards/cards.cache.js')
  const { Registry } = await import('prom-client')
  const cache = new CardCache({
    redis: h.deps.redis,
    prefix: h.config.CACHE_PREFIX,
    cardTtlSeconds: 60,
    listTtlSeconds: 60,
    listStaleSeconds: 60,
    listRefreshMs: 0,
    metrics: new Registry(),
    log: h.app.log
  })
  const read = await cache.getCard(card.id)
  t.equal(read.hit, undefined)
  await h.app.inject({ method: 'PATCH', url, headers: owner.auth, payload: { title: 'New' } })
  await cache.fillCard(card.id, read.generation, {
    tag: 'v1.c0',
    visibility: 'public',
    ownerId: owner.id,
    hidden: false,
    body: JSON.stringify({ ...card, title: 'Old' })
  })
  t.equal((await h.app.inject({ url })).json().title, 'New')
  const listed = {
    id: card.id as string,
    ownerId: owner.id,
    templateId: null,
    tags: ['slow'],
    rarity: 'common',
    effect: undefined,
    text: 'slow'
  }
  const list = await cache.getList('k', 'g:slow')
  await cache.bumpLists([listed], 'changed')
  await cache.fillList('k', 'g:slow', list.stamp, 'etag\nstale')
  t.equal((await cache.getList('k', 'g:slow')).page, undefined, 'a page read before a change is never served after it')

  // An added card leaves the page servable, to be refreshed; its author reads around it.
  const fresh = await cache.getList('k', 'g:slow')
  await cache.fillList('k', 'g:slow', fresh.stamp, 'page')
  t.match(await cache.getList('k', 'g:slow'), { page: 'page', refresh: 'none' })
  await cache.bumpLists([listed], 'added')
  t.match(await cache.getList('k', 'g:slow'), { page: 'page', refresh: 'merge', behind: { page: 'page' } },
    'served, and one caller merges what was added into it')
  t.same(await cache.addedSince('g:slow', Date.now()), [card.id], 'what was added is known by dimension')
  t.same(await cache.addedSince('r:rare', Date.now()), [], 'and only in the dimensions it is in')
  await cache.bumpLists([listed], 'added', owner.id)
  const own = await cache.getList('k', 'g:slow', { id: owner.id, dim: 'g:slow' })
  t.equal(own.page, undefined, 'its author never gets a page older than their write as it is')
  t.match(own, { behind: { page: 'page' } }, 'but may have the cards added since merged into it')
  t.equal((await cache.getList('k', 'g:slow', { id: h.user().id, dim: 'g:slow' })).page, 'page', 'others still do')
  t.equal((await cache.getList('k', 'r:common')).page, undefined, 'other dimensions have their own entries')
  await cache.fillList('l', 'g:other', (await cache.getList('l', 'g:other')).stamp, 'other page')
  t.equal((await cache.getList('l', 'g:other', { id: owner.id, dim: 'g:other' })).page, 'other page',
    'a write marks its author only in the listings the card is in')
})

t.test('cache: a new card is in its author\'s next read of any listing at once, ' +
  'and in everyone\'s soon after', async (t) => {
  const { app } = h
  const owner = h.user()
  const tag = `ryw${Date.now()}`
  await h.card(owner, { title: 'First', tags: [tag] })
  const list = async (headers: Record<string, string> = {}): Promise<string[]> =>
    (await app.inject({ url: `/api/v1/cards?tag=${tag}`, headers })).json().items.map((c: { title: string }) => c.title)
  t.same(await list(), ['First'])
  t.same(await list(owner.auth), ['First'], 'served from the cache to its author too')
  await h.card(owner, { title: 'Second', tags: [tag] })
  t.same(await list(owner.auth), ['Second', 'First'], 'the author sees their write at once')
  t.same(await eventually(list, ['Second', 'First']), ['Second', 'First'], 'others once the page refreshed')

  // Searches: the author sees a new card in a search for its words at once; their other searches stay cached.
  const word = `zq${Date.now().toString(36)}`
  const search = async (q: string): Promise<string[]> =>
    (await app.inject({ url: `/api/v1/cards?q=${q}`, headers: owner.auth })).json().items.map((c: { title: string }) => c.title)
  await h.card(owner, { title: `Old ${word}` })
  t.same(await search(word), [`Old ${word}`])
  t.same(await search('unrelatedword'), [])
  const hits = await counter(app, 'hit', 'card_list')
  await h.card(owner, { title: `New ${word}` })
  t.same((await search(word)).sort(), [`New ${word}`, `Old ${word}`], 'in a search for its words, at once')
  t.same(await search('unrelatedword'), [])
  t.equal(await counter(app, 'hit', 'card_list'), hits + 1, 'a search for other words is still served from the cache')
})

t.test('cache: cards added since a page was filled are merged into it where a new query would put them', async (t) => {
  const { app } = h
  const owner = h.user()
  const word = `mg${Date.now().toString(36)}`
  // A word in a title ranks above one in a description: ranks spread over more than one page.
  for (const i of [0, 1, 2, 3, 4, 5]) {
    await h.card(owner, i % 2 === 0 ? { title: `${word} ${i}` } : { title: `Card ${i}`, description: `about ${word}` })
  }
  interface Page { items: Array<{ title: string, likeCount: number }>, nextCursor: string | null }
  const page = async (limit: number, cursor?: string): Promise<Page> =>
    (await app.inject({
      url: `/api/v1/cards?q=${word}&limit=${limit}${cursor === undefined ? '' : `&cursor=${cursor}`}`
    })).json()
  const titles = (p: Page): string[] => p.items.map((c) => c.title)
  await page(3)
  // Another user's cards: one ranks first, one last; a like moves no card on a relevance page.
  const other = h.user()
  const top = await h.card(other, { title: `${word} ${word} top` })
  await h.card(other, { title: 'Low', description: word })
  await app.inject({ method: 'PUT', url: `/api/v1/cards/${top.id as string}/like`, headers: owner.auth })
  const expected = titles(await page(10))
  t.equal(expected.length, 8)
  t.equal(expected[0], `${word} ${word} top`)
  const merged = await eventually(async () => titles(await page(3)), expected.slice(0, 3))
  t.same(merged, expected.slice(0, 3), 'the first page as a new query gives it')
  const first = await page(3)
  t.equal(first.items[0]?.likeCount, 1, 'with the counts of its cards as they are now')
  t.not(first.nextCursor, null)
  const second = await page(3, first.nextCursor as string)
  const third = await page(3, second.nextCursor as string)
  t.same([...titles(first), ...titles(second), ...titles(third)], expected, 'and its cursor goes on from its last card')
})

t.test('cache: where an author\'s reads look for their writes', async (t) => {
  const { writerDimension } = await import('../src/modules/cards/cards.cache.js')
  t.equal(writerDimension('q', 'Nebula dragons'), 'qw:dra', 'a search: the start of its longest word')
  t.equal(writerDimension('q', 'ab cd'), 'q', 'only short words: every search')
  t.equal(writerDimension('g:fire', undefined), 'g:fire', 'a listing: its dimension')
})

t.test('cache: invalidations missed while Redis was unreachable are purged ' +
  'before the cache is used again', async (t) => {
  const owner = h.user()
  const card = await h.card(owner, { title: 'Cached' })
  const url = `/api/v1/cards/${card.id as string}`
  await h.app.inject({ url })
  t.equal((await h.app.inject({ url })).json().title, 'Cached')
  h.deps.redis.disconnect() // the entry stays in Redis, this app cannot reach it
  const patched = await h.app.inject({
    method: 'PATCH',
    url,
    headers: owner.auth,
    payload: { title: 'Changed while away' }
  })
  t.equal(patched.statusCode, 200)
  t.equal((await h.app.inject({ url })).json().title, 'Changed while away', 'answers from PostgreSQL')
  await h.deps.redis.connect()
  if (h.deps.redis.status !== 'ready') await once(h.deps.redis, 'ready')
  t.equal((await h.app.inject({ url })).json().title, 'Changed while away', 'the stale entry is never served')
})

t.test('Redis down: answers from PostgreSQL, readiness degraded, recovers', async (t) => {
  const port = await freePort()
  const start = async (): Promise<ReturnType<typeof spawn>> => {
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'],
      { stdio: ['ignore', 'pipe', 'ignore'] }
    )
    let out = ''
    child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
    while (!out.includes('Ready to accept connections')) await once(child.stdout as NodeJS.ReadableStream, 'data')
    return child
  }
  let redis = await start()
  t.teardown(() => { redis.kill('SIGKILL') })
  const own = await buildTestApp(t, { REDIS_URL: `redis://127.0.0.1:${port}` })
  const { app } = own
  const owner = own.user()
  const card = await own.card(owner)
  const url = `/api/v1/cards/${card.id as string}`
  t.equal((await app.inject({ url: '/health/ready' })).json().status, 'ok')
  await app.inject({ url })

  redis.kill('SIGKILL')
  await once(redis, 'exit')
  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 200)
  t.equal(ready.json().status, 'degraded')
  t.equal(ready.json().checks.redis.status, 'down')
  t.equal(ready.json().checks.redis.critical, false)
  t.equal((await app.inject({ url })).statusCode, 200, 'reads go on')
  t.equal((await app.inject({ url: '/api/v1/cards' })).json().items.length, 1, 'lists go on')
  const owner2 = own.user()
  t.equal((await app.inject({
    method: 'POST',
    url: '/api/v1/cards',
    headers: owner2.auth,
    payload: { title: 'while down' }
  })).statusCode, 201, 'writes go on')
  t.equal((await app.inject({
    method: 'PATCH',
    url,
    headers: owner.auth,
    payload: { title: 'renamed while down' }
  })).statusCode, 200)
  t.equal((await app.inject({ method: 'PUT', url: `${url}/like`, headers: owner2.auth })).statusCode, 204)
  t.equal((await app.inject({ url })).json().title, 'renamed while down')

  redis = await start()
  if (own.deps.redis.status !== 'ready') await once(own.deps.redis, 'ready')
  t.equal((await app.inject({ url: '/health/ready' })).json().status, 'ok')
  t.equal((await app.inject({ url })).json().likeCount, 1)
})

t.test('cache: callers missing the same first page share one query, ' +
  'but never one begun before a write they follow', async (t) => {
  const { app } = h
  const owner = h.user()
  await h.card(owner, { title: 'Shared one' })
  const url = `/api/v1/cards?ownerId=${owner.id}&sort=popular`
  const proto = CardRepository.prototype
  const original = proto.list
  let calls = 0
  let gate: Promise<void> | undefined
  proto.list = async function (this: CardRepository, f) {
    if (f.ownerId === owner.id) calls++
    const rows = await original.call(this, f)
    if (gate !== undefined && f.ownerId === owner.id) await gate
    return rows
  }
  t.teardown(() => { proto.list = original })

  const res = await Promise.all(Array.from({ length: 10 }, () => app.inject({ url })))
  t.same(res.map((r) => r.json().items.length), Array.from({ length: 10 }, () => 1))
  t.equal(calls, 1, 'ten concurrent misses, one query')

  // A load that read the table before a write is held back until that write has answered.
  const first = (await Promise.all([app.inject({ url })]))[0]?.json().items[0] as { id: string }
  // An edit: a new generation, so the next read misses.
  await app.inject({
    method: 'PATCH',
    url: `/api/v1/cards/${first.id}`,
    headers: owner.auth,
    payload: { title: 'Bump' }
  })
  let release = (): void => {}
  gate = new Promise((resolve) => { release = resolve })
  calls = 0
  const before = app.inject({ url })
  for (let i = 0; i < 10_000 && calls === 0; i++) await new Promise((resolve) => setImmediate(resolve))
  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/cards',
    headers: owner.auth,
    payload: { title: 'Shared two' }
  })
  t.equal(created.statusCode, 201)
  const after = app.inject({ url })
  for (let i = 0; i < 10_000 && calls < 2; i++) await new Promise((resolve) => setImmediate(resolve))
  release()
  t.equal((await before).json().items.length, 1, 'the early reader saw the table as it was')
  t.same(
    (await after).json().items.map((c: { title: string }) => c.title).sort(),
    ['Bump', 'Shared two'],
    'the later reader ran its own query'
  )
  t.equal(calls, 2)
})
