import t from 'tap'
import pg from 'pg'
import { Registry } from 'prom-client'
import { dependencyOf } from '@holo/shared'
import { freePort } from '@holo/infra/testing'
import { CardRepository } from '../src/modules/cards/cards.repository.js'
import { cardLiked } from '../src/modules/cards/cards.events.js'
import { buildTestApp } from './helper.js'

t.test('likes: idempotent, exact under concurrency, likedByMe', async (t) => {
  const h = await buildTestApp(t)
  const { app } = h
  const owner = h.user()
  const card = await h.card(owner)
  const url = `/api/v1/cards/${card.id as string}`

  t.test('need a token', async (t) => {
    t.equal((await app.inject({ method: 'PUT', url: `${url}/like` })).statusCode, 401)
    t.equal((await app.inject({
      method: 'PUT',
      url: '/api/v1/cards/00000000-0000-4000-8000-000000000000/like',
      headers: owner.auth
    })).statusCode, 404)
  })

  t.test('like and unlike are idempotent and show in likedByMe', async (t) => {
    const fan = h.user()
    for (let i = 0; i < 3; i++) {
      t.equal((await app.inject({ method: 'PUT', url: `${url}/like`, headers: fan.auth })).statusCode, 204)
    }
    const liked = (await app.inject({ url, headers: fan.auth })).json()
    t.equal(liked.likeCount, 1)
    t.equal(liked.likedByMe, true)
    t.equal((await app.inject({ url, headers: owner.auth })).json().likedByMe, false)
    t.equal((await app.inject({ url })).json().likeCount, 1, 'anonymous readers see the new count at once')
    const listed = (await app.inject({ url: '/api/v1/cards', headers: fan.auth })).json().items[0]
    t.equal(listed.likedByMe, true)
    for (let i = 0; i < 3; i++) {
      t.equal((await app.inject({ method: 'DELETE', url: `${url}/like`, headers: fan.auth })).statusCode, 204)
    }
    const after = (await app.inject({ url, headers: fan.auth })).json()
    t.equal(after.likeCount, 0)
    t.equal(after.likedByMe, false)
  })

  t.test('N parallel likes by N users, and by one user N times', async (t) => {
    const fans = Array.from({ length: 40 }, () => h.user())
    const res = await Promise.all(fans.map((f) => app.inject({ method: 'PUT', url: `${url}/like`, headers: f.auth })))
    t.ok(res.every((r) => r.statusCode === 204))
    const same = h.user()
    await Promise.all(Array.from({ length: 20 }, () =>
      app.inject({ method: 'PUT', url: `${url}/like`, headers: same.auth })))
    t.equal((await app.inject({ url })).json().likeCount, 41)
    const rows = await h.deps.prisma.like.count({ where: { cardId: card.id } })
    t.equal(rows, 41)
    await Promise.all([...fans.slice(0, 15), same, same, same].map((f) =>
      app.inject({ method: 'DELETE', url: `${url}/like`, headers: f.auth })))
    t.equal((await app.inject({ url })).json().likeCount, 25)
    const metrics = await app.metrics.getSingleMetricAsString('card_likes_total')
    t.match(metrics, /card_likes_total\{action="like",service="card"\} 42/)
  })

  t.test('a like changes the ETag but is no edit: If-Match from before it still holds', async (t) => {
    const mine = await h.card(owner, { title: 'Edit me' })
    const cardUrl = `/api/v1/cards/${mine.id as string}`
    const before = await app.inject({ url: cardUrl })
    t.equal((await app.inject({ method: 'PUT', url: `${cardUrl}/like`, headers: h.user().auth })).statusCode, 204)
    const after = await app.inject({ url: cardUrl, headers: { 'if-none-match': before.headers.etag as string } })
    t.equal(after.statusCode, 200, 'the old ETag no longer matches')
    t.equal(after.json().likeCount, 1)
    t.not(after.headers.etag, before.headers.etag)
    const edit = await app.inject({
      method: 'PATCH',
      url: cardUrl,
      headers: { ...owner.auth, 'if-match': before.headers.etag as string },
      payload: { title: 'Edited' }
    })
    t.equal(edit.statusCode, 200, 'the owner\'s edit is not refused because someone liked the card')
    t.equal(edit.json().likeCount, 1)
    const again = await app.inject({
      method: 'PATCH',
      url: cardUrl,
      headers: { ...owner.auth, 'if-match': before.headers.etag as string },
      payload: { title: 'Lost' }
    })
    t.equal(again.statusCode, 412, 'an edit since the read still is a conflict')
  })

  t.test('a card read into the cache is liked only by those who may see it, and not after it is gone', async (t) => {
    const stranger = h.user()
    const secret = await h.card(owner, { title: 'Secret', visibility: 'private' })
    const secretUrl = `/api/v1/cards/${secret.id as string}`
    t.equal((await app.inject({ url: secretUrl, headers: owner.auth })).statusCode, 200, 'cached by its owner\'s read')
    t.equal((await app.inject({ method: 'PUT', url: `${secretUrl}/like`, headers: stranger.auth })).statusCode, 404)
    t.equal((await app.inject({ method: 'PUT', url: `${secretUrl}/like`, headers: owner.auth })).statusCode, 204)

    const gone = await h.card(owner, { title: 'Gone' })
    const goneUrl = `/api/v1/cards/${gone.id as string}`
    t.equal((await app.inject({ url: goneUrl })).statusCode, 200)
    t.equal((await app.inject({ method: 'PUT', url: `${goneUrl}/like`, headers: stranger.auth })).statusCode, 204,
      'liked while cached')
    t.equal((await app.inject({ method: 'DELETE', url: goneUrl, headers: owner.auth })).statusCode, 204)
    t.equal((await app.inject({ method: 'DELETE', url: `${goneUrl}/like`, headers: stranger.auth })).statusCode, 404,
      'a deleted card is 404 at once')
  })

  t.test('a card never read is liked only by those who may see it (the like statement checks)', async (t) => {
    const stranger = h.user()
    const moderator = h.user(['moderator'])
    const admin = h.user(['admin'])
    const secret = await h.card(owner, { title: 'Never read, private', visibility: 'private' })
    const hidden = await h.card(owner, { title: 'Never read, hidden' })
    const hide = await app.inject({ method: 'POST', url: `/api/v1/cards/${hidden.id as string}/hide`, headers: moderator.auth })
    t.equal(hide.statusCode, 200)
    const like = async (c: Record<string, unknown>, who: { auth: Record<string, string> }, method = 'PUT') =>
      (await app.inject({ method: method as 'PUT', url: `/api/v1/cards/${c.id as string}/like`, headers: who.auth })).statusCode
    t.equal(await like(secret, stranger), 404, 'a private card: not for a stranger')
    t.equal(await like(secret, stranger, 'DELETE'), 404, 'nor its unlike')
    t.equal(await like(secret, moderator), 404, 'nor for a moderator (cards.hide shows hidden cards, not private ones)')
    t.equal(await like(secret, admin), 204, 'cards.read_any sees it')
    t.equal(await like(secret, owner), 204, 'its owner sees it')
    t.equal(await like(hidden, stranger), 404, 'a hidden card: not for a stranger')
    t.equal(await like(hidden, moderator), 204, 'a moderator sees it')
    t.equal(await like(hidden, owner), 204, 'its owner sees it')
    t.equal(await like(hidden, moderator, 'DELETE'), 204, 'and its unlike')
    const read = await app.inject({ url: `/api/v1/cards/${secret.id as string}`, headers: owner.auth })
    t.equal(read.json().likeCount, 2, 'the refused likes counted nothing')
    t.equal((await app.inject({ url: `/api/v1/cards/${hidden.id as string}`, headers: owner.auth })).json().likeCount, 1)
  })
})

t.test('a like when PostgreSQL cannot be reached fails as the database being down (a 503 naming postgres)', async (t) => {
  const h = await buildTestApp(t)
  const port = await freePort()
  // The statement goes to the pool under Prisma directly: its errors must still read as the database's fault.
  const dead = new pg.Pool({ connectionString: `postgresql://postgres@127.0.0.1:${port}/postgres`, connectionTimeoutMillis: 500 })
  t.teardown(async () => { await dead.end() })
  const repo = new CardRepository(h.deps.prisma, h.config.DATABASE_SCHEMA, new Registry(), dead)
  const card = await h.card(h.user())
  const liker = h.user().id
  const err = await repo.like({ id: liker, private: false, hidden: false }, card.id, cardLiked(card.id, true, liker))
    .then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof Error, 'the like fails')
  t.equal(dependencyOf(err), 'postgres', 'classified as PostgreSQL unavailable: the problem handler answers 503')
  const read = await h.app.inject({ url: `/api/v1/cards/${card.id as string}` })
  t.equal(read.json().likeCount, 0, 'nothing was written')
})
