import t from 'tap'
import { buildTestApp, type TestApp, type TestUser } from './helper.js'

const ids = (res: { json: () => any }): string[] => res.json().items.map((c: { id: string }) => c.id)

async function allPages (
  h: TestApp,
  url: string,
  headers: Record<string, string> = {},
  between?: (page: number, seen: string[]) => Promise<void>
): Promise<string[]> {
  const seen: string[] = []
  let cursor: string | null = null
  for (let page = 0; page < 100; page++) {
    const sep = url.includes('?') ? '&' : '?'
    const res: { statusCode: number, body: string, json: () => any } = await h.app.inject({
      url: cursor === null ? url : `${url}${sep}cursor=${cursor}`,
      headers
    })
    if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`)
    seen.push(...ids(res))
    cursor = res.json().nextCursor
    if (cursor === null) return seen
    await between?.(page, seen)
  }
  throw new Error('too many pages')
}

// One app and database for the file; later tests filter by their own owner.
const h = await buildTestApp(t)

t.test('listing, filters, search and cursors', async (t) => {
  const { app } = h
  const alice = h.user()
  const bob = h.user()
  const mod = h.user(['moderator'])

  const pub1 = await h.card(alice, {
    title: 'Nebula Dragon',
    tags: ['space', 'dragon'],
    rarity: 'epic',
    holo: { effect: 'galaxy' }
  })
  const pub2 = await h.card(bob, {
    title: 'Ocean Turtle',
    description: 'calm waters of the reef',
    tags: ['sea'],
    rarity: 'common',
    holo: { effect: 'prism' }
  })
  const pub3 = await h.card(alice, {
    title: 'Starlight Fox',
    tags: ['space', 'fox'],
    rarity: 'rare',
    holo: { effect: 'cosmos' }
  })
  const unlisted = await h.card(alice, {
    title: 'Secret Dragon unlisted',
    tags: ['space', 'dragon'],
    visibility: 'unlisted'
  })
  const priv = await h.card(alice, { title: 'Private Dragon', tags: ['space', 'dragon'], visibility: 'private' })
  const hidden = await h.card(bob, { title: 'Hidden Dragon', tags: ['space', 'dragon'] })
  await app.inject({ method: 'POST', url: `/api/v1/cards/${hidden.id as string}/hide`, headers: mod.auth })
  const deleted = await h.card(bob, { title: 'Deleted Dragon', tags: ['space', 'dragon'] })
  await app.inject({ method: 'DELETE', url: `/api/v1/cards/${deleted.id as string}`, headers: bob.auth })
  const never = [unlisted.id, priv.id, hidden.id, deleted.id]

  t.test('public listing: newest first, only listable cards, for every caller', async (t) => {
    for (const headers of [{}, bob.auth, mod.auth, h.user(['admin']).auth]) {
      const res = await app.inject({ url: '/api/v1/cards', headers })
      t.equal(res.statusCode, 200)
      t.same(ids(res), [pub3.id, pub2.id, pub1.id])
      t.equal(res.json().nextCursor, null)
    }
    const anon = await app.inject({ url: '/api/v1/cards' })
    t.equal(anon.headers['cache-control'], 'public, no-cache')
    t.equal((await app.inject({
      url: '/api/v1/cards',
      headers: { 'if-none-match': anon.headers.etag as string }
    })).statusCode, 304)
  })

  t.test('filters combine', async (t) => {
    t.same(ids(await app.inject({ url: '/api/v1/cards?tag=space' })), [pub3.id, pub1.id])
    t.same(ids(await app.inject({ url: '/api/v1/cards?tag=SPACE&rarity=epic' })), [pub1.id])
    t.same(ids(await app.inject({ url: '/api/v1/cards?effect=prism' })), [pub2.id])
    t.same(ids(await app.inject({ url: `/api/v1/cards?ownerId=${alice.id}` })), [pub3.id, pub1.id])
    t.same(ids(await app.inject({ url: `/api/v1/cards?ownerId=${alice.id}&tag=fox` })), [pub3.id])
    t.same(ids(await app.inject({ url: '/api/v1/cards?rarity=legendary' })), [])
    const bad = await app.inject({ url: '/api/v1/cards?rarity=mythic&limit=500' })
    t.equal(bad.statusCode, 400)
    t.same(bad.json().errors.map((e: { field: string }) => e.field).sort(), ['limit', 'rarity'])
    t.equal((await app.inject({ url: '/api/v1/cards?color=red' })).statusCode, 400)
  })

  t.test('search: full text over title, tags and description, prefixes, typos; never leaks', async (t) => {
    const q = async (query: string, headers: Record<string, string> = {}): Promise<string[]> => {
      const res = await app.inject({ url: `/api/v1/cards?q=${encodeURIComponent(query)}`, headers })
      t.equal(res.statusCode, 200, query)
      return ids(res)
    }
    t.same(await q('dragon'), [pub1.id])
    t.same(await q('drag'), [pub1.id], 'prefix')
    t.same(await q('dragn'), [pub1.id], 'typo in a title word')
    t.same(await q('reef'), [pub2.id], 'description')
    t.same(await q('fox'), [pub3.id], 'tag and title')
    t.same((await q('space')).sort(), [pub1.id, pub3.id].sort())
    t.same(await q('starlight fox'), [pub3.id], 'all words must match')
    t.same(await q('%_\'":*&|!'), [], 'operators are not syntax')
    // No LIKE anywhere in card search (tsquery of letters and digits, trigram similarity): no wildcards either.
    for (const wild of ['%', '_', '\\', '%%', '_%_']) t.same(await q(wild), [], `${wild} matches nothing`)
    for (const headers of [{}, bob.auth, mod.auth]) {
      const found = await q('dragon', headers)
      t.notOk(found.some((id) => never.includes(id)), 'no unlisted, private, hidden or deleted card in search')
    }
    const ranked = await app.inject({ url: '/api/v1/cards?q=space&sort=relevance&limit=1' })
    t.equal(ranked.json().items.length, 1)
    t.type(ranked.json().nextCursor, 'string')
    const second = await app.inject({
      url: `/api/v1/cards?q=space&sort=relevance&limit=1&cursor=${ranked.json().nextCursor as string}`
    })
    t.same([...ids(ranked), ...ids(second)].sort(), [pub1.id, pub3.id].sort())
    const noQ = await app.inject({ url: '/api/v1/cards?sort=relevance' })
    t.equal(noQ.statusCode, 400)
    t.match(noQ.json(), { code: 'VALIDATION_FAILED', errors: [{ field: 'sort', in: 'querystring' }] })
  })

  t.test('ownerId=me: your own cards of every visibility, never for others', async (t) => {
    t.equal((await app.inject({ url: '/api/v1/cards?ownerId=me' })).statusCode, 401)
    const mine = await app.inject({ url: '/api/v1/cards?ownerId=me', headers: alice.auth })
    t.same(ids(mine), [priv.id, unlisted.id, pub3.id, pub1.id])
    t.equal(mine.headers['cache-control'], 'private, no-cache')
    t.same(
      ids(await app.inject({ url: `/api/v1/cards?ownerId=${alice.id}`, headers: alice.auth })),
      [priv.id, unlisted.id, pub3.id, pub1.id]
    )
    t.same(ids(await app.inject({ url: `/api/v1/cards?ownerId=${alice.id}`, headers: bob.auth })), [pub3.id, pub1.id])
    t.same(
      ids(await app.inject({ url: '/api/v1/cards?ownerId=me&q=dragon', headers: alice.auth })).sort(),
      [pub1.id, unlisted.id, priv.id].sort()
    )
    t.same(
      ids(await app.inject({ url: '/api/v1/cards?ownerId=me', headers: bob.auth })),
      [hidden.id, pub2.id],
      'the owner still sees a hidden card'
    )
  })

  t.test('cursors: opaque, bound to their sort, refused when tampered', async (t) => {
    const first = await app.inject({ url: '/api/v1/cards?limit=1' })
    const cursor = first.json().nextCursor as string
    t.notMatch(cursor, /[{}"]/)
    const bad = await app.inject({ url: '/api/v1/cards?cursor=xyz' })
    t.equal(bad.statusCode, 400)
    t.equal(bad.json().errors[0].field, 'cursor')
    t.equal((await app.inject({ url: `/api/v1/cards?sort=popular&cursor=${cursor}` })).statusCode, 400)
    const forged = Buffer.from(JSON.stringify(['n', 'not a date', 'x'])).toString('base64url')
    t.equal((await app.inject({ url: `/api/v1/cards?cursor=${forged}` })).statusCode, 400)
  })
})

t.test('pagination over data that changes between pages: no duplicates, no gaps', async (t) => {
  const owner = h.user()
  const mine = `ownerId=${owner.id}`
  const created: string[] = []
  for (let i = 0; i < 25; i++) created.push((await h.card(owner, { title: `Card ${i}` })).id)
  const before = ids(await h.app.inject({ url: `/api/v1/cards?${mine}&limit=100` }))
  t.same([...before].sort(), [...created].sort())
  const deletedDuringWalk: string[] = []

  const walked = await allPages(h, `/api/v1/cards?${mine}&limit=4`, {}, async (page, seen) => {
    // New cards appear before the cursor, and a card not yet reached is deleted.
    await h.card(owner, { title: `Late ${page}` })
    const victim = before[before.indexOf(seen[seen.length - 1] as string) + 3]
    if (victim !== undefined && !deletedDuringWalk.includes(victim)) {
      const del = await h.app.inject({ method: 'DELETE', url: `/api/v1/cards/${victim}`, headers: owner.auth })
      if (del.statusCode !== 204) throw new Error(`delete: ${del.statusCode} ${del.body}`)
      deletedDuringWalk.push(victim)
    }
  })
  t.equal(new Set(walked).size, walked.length, 'no duplicates')
  const expected = before.filter((id) => !deletedDuringWalk.includes(id))
  t.same(walked, expected, 'every card that existed all along, in order, none skipped')
  t.ok(deletedDuringWalk.length > 0)

  const now = ids(await h.app.inject({ url: `/api/v1/cards?${mine}&limit=100` }))
  const popular = await allPages(h, `/api/v1/cards?${mine}&limit=7&sort=popular`, {})
  t.same([...popular].sort(), [...now].sort(), 'popular pages cover every listed card once')
})

t.test('popular sort follows likes', async (t) => {
  const owner: TestUser = h.user()
  const a = await h.card(owner, { title: 'a' })
  const b = await h.card(owner, { title: 'b' })
  const c = await h.card(owner, { title: 'c' })
  for (let i = 0; i < 2; i++) {
    await h.app.inject({ method: 'PUT', url: `/api/v1/cards/${b.id as string}/like`, headers: h.user().auth })
  }
  await h.app.inject({ method: 'PUT', url: `/api/v1/cards/${a.id as string}/like`, headers: h.user().auth })
  t.same(ids(await h.app.inject({ url: `/api/v1/cards?sort=popular&ownerId=${owner.id}` })), [b.id, a.id, c.id])
  t.same(await allPages(h, `/api/v1/cards?sort=popular&limit=1&ownerId=${owner.id}`), [b.id, a.id, c.id])
})
