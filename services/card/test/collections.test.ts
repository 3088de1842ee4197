import t from 'tap'
import { buildTestApp } from './helper.js'

t.test('collections', async (t) => {
  const h = await buildTestApp(t)
  const { app } = h
  const alice = h.user()
  const bob = h.user()
  const mod = h.user(['moderator'])
  const col = async (who = alice, body: Record<string, unknown> = {}): Promise<any> =>
    (await app.inject({
      method: 'POST',
      url: '/api/v1/collections',
      headers: who.auth,
      payload: { name: 'Faves', ...body }
    })).json()
  const put = async (id: string, cardId: string, who = alice, payload?: Record<string, unknown>): Promise<number> =>
    (await app.inject({
      method: 'PUT',
      url: `/api/v1/collections/${id}/cards/${cardId}`,
      headers: who.auth,
      ...(payload === undefined ? {} : { payload })
    })).statusCode
  const cardIds = async (id: string, headers: Record<string, string> = {}): Promise<string[]> =>
    (await app.inject({ url: `/api/v1/collections/${id}`, headers })).json().cards.map((c: { id: string }) => c.id)

  t.test('create, read, patch, delete with owner rules', async (t) => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/collections',
      headers: alice.auth,
      payload: { name: 'Space', description: 'stars' }
    })
    t.equal(res.statusCode, 201)
    t.match(res.json(), { ownerId: alice.id, name: 'Space', description: 'stars', visibility: 'public', cards: [] })
    t.equal((await app.inject({
      method: 'POST',
      url: '/api/v1/collections',
      headers: alice.auth,
      payload: { name: 'x', ownerId: bob.id }
    })).json().errors[0].field, 'ownerId')
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/collections', payload: { name: 'x' } })).statusCode, 401)
    const id = res.json().id as string
    t.equal((await app.inject({
      method: 'PATCH',
      url: `/api/v1/collections/${id}`,
      headers: bob.auth,
      payload: { name: 'mine' }
    })).statusCode, 403)
    t.equal((await app.inject({
      method: 'PATCH',
      url: `/api/v1/collections/${id}`,
      headers: alice.auth,
      payload: { name: 'Cosmos' }
    })).json().name, 'Cosmos')
    t.equal((await app.inject({
      method: 'DELETE',
      url: `/api/v1/collections/${id}`,
      headers: bob.auth
    })).statusCode, 403)
    t.equal((await app.inject({
      method: 'DELETE',
      url: `/api/v1/collections/${id}`,
      headers: alice.auth
    })).statusCode, 204)
    t.equal((await app.inject({ url: `/api/v1/collections/${id}` })).statusCode, 404)
    const priv = await col(alice, { visibility: 'private' })
    t.equal((await app.inject({ url: `/api/v1/collections/${priv.id as string}`, headers: bob.auth })).statusCode, 404)
    t.equal((await app.inject({
      url: `/api/v1/collections/${priv.id as string}`,
      headers: alice.auth
    })).statusCode, 200)
    t.equal((await app.inject({
      method: 'DELETE',
      url: `/api/v1/collections/${priv.id as string}`,
      headers: h.user(['admin']).auth
    })).statusCode, 204)
  })

  t.test('ordered cards: add, position, move, remove, idempotent', async (t) => {
    const c = await col()
    const [a, b, d] = [
      await h.card(alice, { title: 'a' }),
      await h.card(alice, { title: 'b' }),
      await h.card(bob, { title: 'd' })
    ]
    t.equal(await put(c.id, a.id), 204)
    t.equal(await put(c.id, b.id), 204)
    t.equal(await put(c.id, d.id, alice, { position: 0 }), 204)
    t.same(await cardIds(c.id), [d.id, a.id, b.id])
    t.equal(await put(c.id, a.id), 204, 'adding again changes nothing')
    t.same(await cardIds(c.id), [d.id, a.id, b.id])
    t.equal(await put(c.id, d.id, alice, { position: 99 }), 204, 'move past the end')
    t.same(await cardIds(c.id), [a.id, b.id, d.id])
    t.equal(await put(c.id, d.id, alice, { position: 1 }), 204)
    t.same(await cardIds(c.id), [a.id, d.id, b.id])
    t.equal((await app.inject({
      method: 'DELETE',
      url: `/api/v1/collections/${c.id as string}/cards/${d.id as string}`,
      headers: alice.auth
    })).statusCode, 204)
    t.equal((await app.inject({
      method: 'DELETE',
      url: `/api/v1/collections/${c.id as string}/cards/${d.id as string}`,
      headers: alice.auth
    })).statusCode, 204)
    t.same(await cardIds(c.id), [a.id, b.id])
    t.equal(await put(c.id, a.id, bob), 403)
    t.equal(await put(c.id, a.id, alice, { position: -1 }), 400)
    t.equal(await put(c.id, a.id, alice, { position: 0, extra: 1 }), 400)
    t.equal(await put(c.id, '00000000-0000-4000-8000-000000000000'), 404)
    const rows = await h.deps.prisma.collectionCard.findMany({
      where: { collectionId: c.id },
      orderBy: { position: 'asc' }
    })
    t.same(rows.map((r) => r.position), [0, 1], 'positions stay dense')
  })

  t.test('a collection shows only the cards the caller may see', async (t) => {
    const c = await col()
    const pub = await h.card(alice, { title: 'public' })
    const priv = await h.card(alice, { title: 'private', visibility: 'private' })
    const unl = await h.card(alice, { title: 'unlisted', visibility: 'unlisted' })
    const hid = await h.card(alice, { title: 'hidden' })
    const del = await h.card(alice, { title: 'deleted' })
    for (const card of [pub, priv, unl, hid, del]) t.equal(await put(c.id, card.id), 204)
    await app.inject({ method: 'POST', url: `/api/v1/cards/${hid.id as string}/hide`, headers: mod.auth })
    await app.inject({ method: 'DELETE', url: `/api/v1/cards/${del.id as string}`, headers: alice.auth })
    t.same(await cardIds(c.id), [pub.id, unl.id])
    t.same(await cardIds(c.id, bob.auth), [pub.id, unl.id])
    t.same(await cardIds(c.id, alice.auth), [pub.id, priv.id, unl.id, hid.id])
    t.same(await cardIds(c.id, mod.auth), [pub.id, unl.id, hid.id])
    const bobsPrivate = await h.card(bob, { visibility: 'private' })
    t.equal(await put(c.id, bobsPrivate.id), 404, "cannot add a card you cannot see")
  })

  t.test('listing: public ones for everyone, all of yours with ownerId=me', async (t) => {
    const owner = h.user()
    const pub = await col(owner, { name: 'pub' })
    const unl = await col(owner, { name: 'unl', visibility: 'unlisted' })
    const priv = await col(owner, { name: 'priv', visibility: 'private' })
    const ids = async (url: string, headers: Record<string, string> = {}): Promise<string[]> =>
      (await app.inject({ url, headers })).json().items.map((x: { id: string }) => x.id)
    t.same(await ids(`/api/v1/collections?ownerId=${owner.id}`), [pub.id])
    t.same(await ids(`/api/v1/collections?ownerId=${owner.id}`, bob.auth), [pub.id])
    t.same(await ids('/api/v1/collections?ownerId=me', owner.auth), [priv.id, unl.id, pub.id])
    t.notOk((await ids('/api/v1/collections?limit=100')).some((id) => [unl.id, priv.id].includes(id)))
    const first = await app.inject({ url: '/api/v1/collections?ownerId=me&limit=2', headers: owner.auth })
    const next = await ids(
      `/api/v1/collections?ownerId=me&limit=2&cursor=${first.json().nextCursor as string}`,
      owner.auth
    )
    t.same(next, [pub.id])
    t.equal((await app.inject({ url: '/api/v1/collections?ownerId=me' })).statusCode, 401)
  })
})
