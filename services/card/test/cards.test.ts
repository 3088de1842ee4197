import t from 'tap'
import { buildTestApp } from './helper.js'

t.test('cards: create, read, change, delete', async (t) => {
  const h = await buildTestApp(t)
  const { app } = h
  const alice = h.user()
  const bob = h.user()

  t.test('create needs a token', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/cards', payload: { title: 'x' } })
    t.equal(res.statusCode, 401)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  })

  t.test('create answers 201 with the full card, normalised tags and defaults', async (t) => {
    const res = await app.inject({
      method: 'POST', url: '/api/v1/cards', headers: alice.auth,
      payload: {
        title: 'Nebula Fox',
        tags: ['Space', 'fox', 'space'],
        holo: { effect: 'galaxy', colors: ['#aabbcc'] },
        rarity: 'epic'
      }
    })
    t.equal(res.statusCode, 201)
    const card = res.json()
    t.match(card, {
      ownerId: alice.id, title: 'Nebula Fox', description: '', tags: ['space', 'fox'],
      rarity: 'epic', visibility: 'public',
      likeCount: 0, hidden: false, likedByMe: false, templateId: null, artworkFileId: null,
      holo: { effect: 'galaxy', intensity: 0.5, angle: 0, pattern: null, colors: ['#aabbcc'] }
    })
    t.equal(res.headers.location, `/api/v1/cards/${card.id as string}`)
    t.ok(res.headers.etag)
  })

  t.test('unknown and server-owned fields are refused, naming the field', async (t) => {
    for (const field of ['ownerId', 'likeCount', 'hidden', 'id', 'createdAt']) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/cards',
        headers: alice.auth,
        payload: { title: 'x', [field]: 'x' }
      })
      t.equal(res.statusCode, 400, field)
      t.same(res.json().errors, [{ field, in: 'body', message: 'is not an allowed field' }], field)
    }
    const nested = await app.inject({
      method: 'POST',
      url: '/api/v1/cards',
      headers: alice.auth,
      payload: { title: 'x', holo: { effect: 'none', shine: 1 } }
    })
    t.equal(nested.statusCode, 400)
    t.equal(nested.json().errors[0].field, 'holo.shine')
  })

  t.test('bad values answer 400 naming the field', async (t) => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ title: '' }, 'title'],
      [{ title: 'x'.repeat(121) }, 'title'],
      [{ title: 'x', description: 'x'.repeat(2001) }, 'description'],
      [{ title: 'x', rarity: 'mythic' }, 'rarity'],
      [{ title: 'x', visibility: 'secret' }, 'visibility'],
      [{ title: 'x', holo: { effect: 'sparkle' } }, 'holo.effect'],
      [{ title: 'x', holo: { intensity: 1.5 } }, 'holo.intensity'],
      [{ title: 'x', holo: { angle: 361 } }, 'holo.angle'],
      [{ title: 'x', holo: { colors: ['#fff'] } }, 'holo.colors.0'],
      [{ title: 'x', holo: { colors: Array(7).fill('#aabbcc') } }, 'holo.colors'],
      [{ title: 'x', tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, 'tags'],
      [{ title: 'x', tags: ['no spaces'] }, 'tags.0'],
      [{ title: 'x', tags: ['x'.repeat(33)] }, 'tags.0'],
      [{ title: 'x', templateId: 'nope' }, 'templateId'],
      [{}, 'title']
    ]
    for (const [payload, field] of cases) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/cards', headers: alice.auth, payload })
      t.equal(res.statusCode, 400, JSON.stringify(payload))
      t.ok(
        res.json().errors.some((e: { field: string }) => e.field === field),
        `${field} named for ${JSON.stringify(payload).slice(0, 60)}`
      )
    }
    const badId = await app.inject({ url: '/api/v1/cards/not-a-uuid' })
    t.equal(badId.statusCode, 400)
    t.equal(badId.json().errors[0].field, 'id')
  })

  t.test('a bad or expired token is 401 even on public reads', async (t) => {
    const card = await h.card(alice)
    const res = await app.inject({
      url: `/api/v1/cards/${card.id as string}`,
      headers: { authorization: 'Bearer nope' }
    })
    t.equal(res.statusCode, 401)
    const expired = h.issuer.token({ expiresIn: -60 })
    t.equal((await app.inject({
      url: `/api/v1/cards/${card.id as string}`,
      headers: { authorization: `Bearer ${expired}` }
    })).statusCode, 401)
  })

  t.test('read: ETag, Cache-Control, 304, likedByMe only with a token', async (t) => {
    const card = await h.card(alice)
    const url = `/api/v1/cards/${card.id as string}`
    const anon = await app.inject({ url })
    t.equal(anon.statusCode, 200)
    t.equal(anon.headers['cache-control'], 'public, no-cache')
    t.notOk('likedByMe' in anon.json())
    const { likedByMe: _, ...asCreated } = card
    t.same(anon.json(), asCreated)
    const again = await app.inject({ url, headers: { 'if-none-match': anon.headers.etag as string } })
    t.equal(again.statusCode, 304)
    t.equal(again.body, '')
    const signedIn = await app.inject({ url, headers: bob.auth })
    t.equal(signedIn.json().likedByMe, false)
    t.equal(signedIn.headers['cache-control'], 'private, no-cache')
    t.not(signedIn.headers.etag, anon.headers.etag)
    t.equal(anon.headers.etag, '"v1.c0"', 'the ETag is the version and the like count')
    t.equal(signedIn.headers.etag, '"v1.c0.l0"', 'plus likedByMe for a signed-in reader')
    t.equal(anon.headers.vary, 'Authorization')
    const missing = await app.inject({ url: '/api/v1/cards/00000000-0000-4000-8000-000000000000' })
    t.equal(missing.statusCode, 404)
    t.equal(missing.json().code, 'CARD_NOT_FOUND')
  })

  t.test('patch: owner only, If-Match honoured, partial holo merge', async (t) => {
    const card = await h.card(alice, { holo: { effect: 'prism', intensity: 0.9 } })
    const url = `/api/v1/cards/${card.id as string}`
    const read = await app.inject({ url, headers: alice.auth })
    const byBob = await app.inject({ method: 'PATCH', url, headers: bob.auth, payload: { title: 'mine now' } })
    t.equal(byBob.statusCode, 403)
    const ok = await app.inject({
      method: 'PATCH',
      url,
      headers: { ...alice.auth, 'if-match': read.headers.etag as string },
      payload: { title: 'Renamed', holo: { angle: 90 }, tags: ['New'] }
    })
    t.equal(ok.statusCode, 200)
    t.match(ok.json(), { title: 'Renamed', tags: ['new'], holo: { effect: 'prism', intensity: 0.9, angle: 90 } })
    t.not(ok.headers.etag, read.headers.etag)
    const stale = await app.inject({
      method: 'PATCH',
      url,
      headers: { ...alice.auth, 'if-match': read.headers.etag as string },
      payload: { title: 'Lost update' }
    })
    t.equal(stale.statusCode, 412)
    t.equal(stale.json().code, 'CARD_CHANGED')
    const garbage = await app.inject({
      method: 'PATCH',
      url,
      headers: { ...alice.auth, 'if-match': '"something-else"' },
      payload: { title: 'x' }
    })
    t.equal(garbage.statusCode, 412)
    const star = await app.inject({
      method: 'PATCH',
      url,
      headers: { ...alice.auth, 'if-match': '*' },
      payload: { description: 'any version' }
    })
    t.equal(star.statusCode, 200)
    const fresh = await app.inject({
      method: 'PATCH',
      url,
      headers: { ...alice.auth, 'if-match': star.headers.etag as string },
      payload: { rarity: 'rare' }
    })
    t.equal(fresh.statusCode, 200)
    t.equal((await app.inject({ url })).json().title, 'Renamed')
    const empty = await app.inject({ method: 'PATCH', url, headers: alice.auth, payload: {} })
    t.equal(empty.statusCode, 400)
    const owner = await app.inject({ method: 'PATCH', url, headers: alice.auth, payload: { ownerId: bob.id } })
    t.equal(owner.statusCode, 400)
    t.equal(owner.json().errors[0].field, 'ownerId')
  })

  t.test('delete: owner, moderator or admin; then 404 for everyone', async (t) => {
    const a = await h.card(alice)
    const b = await h.card(alice)
    const c = await h.card(alice)
    t.equal((await app.inject({
      method: 'DELETE',
      url: `/api/v1/cards/${a.id as string}`,
      headers: bob.auth
    })).statusCode, 403)
    t.equal((await app.inject({
      method: 'DELETE',
      url: `/api/v1/cards/${a.id as string}`,
      headers: alice.auth
    })).statusCode, 204)
    t.equal((await app.inject({
      method: 'DELETE',
      url: `/api/v1/cards/${b.id as string}`,
      headers: h.user(['moderator']).auth
    })).statusCode, 204)
    t.equal((await app.inject({
      method: 'DELETE',
      url: `/api/v1/cards/${c.id as string}`,
      headers: h.user(['admin']).auth
    })).statusCode, 204)
    for (const card of [a, b, c]) {
      t.equal((await app.inject({ url: `/api/v1/cards/${card.id as string}`, headers: alice.auth })).statusCode, 404)
      t.equal((await app.inject({
        method: 'DELETE',
        url: `/api/v1/cards/${card.id as string}`,
        headers: alice.auth
      })).statusCode, 404)
    }
  })

  t.test('visibility: unlisted by id for anyone, private for owner and admins only', async (t) => {
    const unlisted = await h.card(alice, { visibility: 'unlisted' })
    const priv = await h.card(alice, { visibility: 'private' })
    t.equal((await app.inject({ url: `/api/v1/cards/${unlisted.id as string}` })).statusCode, 200)
    t.equal((await app.inject({ url: `/api/v1/cards/${unlisted.id as string}`, headers: bob.auth })).statusCode, 200)
    const anon = await app.inject({ url: `/api/v1/cards/${priv.id as string}` })
    t.equal(anon.statusCode, 404)
    t.equal(anon.json().code, 'CARD_NOT_FOUND', 'a private card looks exactly like a missing one')
    t.equal((await app.inject({ url: `/api/v1/cards/${priv.id as string}`, headers: bob.auth })).statusCode, 404)
    t.equal((await app.inject({
      url: `/api/v1/cards/${priv.id as string}`,
      headers: h.user(['moderator']).auth
    })).statusCode, 404)
    t.equal((await app.inject({ url: `/api/v1/cards/${priv.id as string}`, headers: alice.auth })).statusCode, 200)
    t.equal((await app.inject({
      url: `/api/v1/cards/${priv.id as string}`,
      headers: h.user(['admin']).auth
    })).statusCode, 200)
    t.equal((await app.inject({
      method: 'PATCH',
      url: `/api/v1/cards/${priv.id as string}`,
      headers: bob.auth,
      payload: { title: 'x' }
    })).statusCode, 404)
    t.equal((await app.inject({
      method: 'PUT',
      url: `/api/v1/cards/${priv.id as string}/like`,
      headers: bob.auth
    })).statusCode, 404)
    t.equal((await app.inject({
      method: 'DELETE',
      url: `/api/v1/cards/${priv.id as string}`,
      headers: bob.auth
    })).statusCode, 404)
  })

  t.test('moderation: hide and unhide', async (t) => {
    const card = await h.card(alice)
    const url = `/api/v1/cards/${card.id as string}`
    const mod = h.user(['moderator'])
    t.equal((await app.inject({ method: 'POST', url: `${url}/hide`, headers: bob.auth })).statusCode, 403)
    t.equal((await app.inject({ method: 'POST', url: `${url}/hide` })).statusCode, 401)
    await app.inject({ url }) // warm the cache: hiding must still take effect at once
    const hidden = await app.inject({ method: 'POST', url: `${url}/hide`, headers: mod.auth })
    t.equal(hidden.statusCode, 200)
    t.equal(hidden.json().hidden, true)
    t.equal((await app.inject({ url })).statusCode, 404)
    t.equal((await app.inject({ url, headers: bob.auth })).statusCode, 404)
    t.equal((await app.inject({ url, headers: alice.auth })).json().hidden, true)
    t.equal((await app.inject({ url, headers: mod.auth })).statusCode, 200)
    t.equal((await app.inject({ method: 'PUT', url: `${url}/like`, headers: bob.auth })).statusCode, 404)
    t.equal((await app.inject({
      method: 'POST',
      url: `${url}/unhide`,
      headers: h.user(['admin']).auth
    })).statusCode, 200)
    t.equal((await app.inject({ url })).statusCode, 200)
    t.equal((await app.inject({
      method: 'POST',
      url: '/api/v1/cards/00000000-0000-4000-8000-000000000000/hide',
      headers: mod.auth
    })).statusCode, 404)
  })
})
