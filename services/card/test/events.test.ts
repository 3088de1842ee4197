// What the card service publishes: every change of a card, template or
// collection writes its events in its own transaction (the outbox), reads by
// anyone but the owner are counted as views, the relay moves everything to the
// card stream, and a refused request publishes nothing.
import t from 'tap'
import { eventually, outboxEvents, streamedEvents, type PublishedEvent } from '@holo/infra/testing'
import { TemplateExample } from '../src/modules/templates/templates.schemas.js'
import { buildTestApp } from './helper.js'

t.test('card events', async (t) => {
  const h = await buildTestApp(t, { CARD_VIEWS_FLUSH_MS: '100' })
  const owner = h.user()
  const fan = h.user()
  const mod = h.user(['moderator'])
  const about = async (subject: string): Promise<PublishedEvent[]> =>
    (await outboxEvents(h.db, 'card')).filter((e) => e.subject === subject)
  const kinds = async (subject: string): Promise<string[]> => (await about(subject)).map((e) => e.type.slice(5, -3))

  const created = await h.app.inject({
    method: 'POST',
    url: '/api/v1/cards',
    headers: { ...owner.auth, 'x-forwarded-for': '203.0.113.5' },
    payload: { title: 'Nebula Dragon', rarity: 'epic', visibility: 'private' }
  })
  t.equal(created.statusCode, 201)
  const card = created.json()
  t.match(await about(card.id), [{
    type: 'holo.card.created.v1',
    source: 'holo-card',
    actorid: owner.id,
    requestid: created.headers['x-request-id'],
    clientip: '203.0.113.5',
    subjectseq: 1,
    data: { ownerId: owner.id, title: 'Nebula Dragon', visibility: 'private', rarity: 'epic', templateId: null }
  }])

  t.test('edits name what changed; a visibility change says so too; refused edits publish nothing', async (t) => {
    const patch = async (who: typeof owner, payload: object) => await h.app.inject({
      method: 'PATCH', url: `/api/v1/cards/${card.id as string}`, headers: who.auth, payload
    })
    t.equal((await patch(owner, { title: 'Nebula Dragon II', visibility: 'public' })).statusCode, 200)
    t.equal((await patch(fan, { title: 'stolen' })).statusCode, 403)
    t.equal((await patch(owner, { title: '' })).statusCode, 400)
    t.equal((await patch(owner, { title: 'Nebula Dragon II' })).statusCode, 200, 'the same title again')
    const events = await about(card.id)
    t.same(events.map((e) => e.type), ['holo.card.created.v1', 'holo.card.updated.v1', 'holo.card.visibility_changed.v1'])
    t.same(events[1]?.data, { ownerId: owner.id, version: 2, changed: ['title', 'visibility'], title: 'Nebula Dragon II' })
    t.same(events[2]?.data, { ownerId: owner.id, visibility: 'public', previousVisibility: 'private' })
    t.same(events.map((e) => e.subjectseq), [1, 2, 3], 'numbered in commit order')
  })

  t.test('likes carry the new count; a repeated like is no change', async (t) => {
    const like = async (method: 'PUT' | 'DELETE') => await h.app.inject({
      method, url: `/api/v1/cards/${card.id as string}/like`, headers: fan.auth
    })
    await like('PUT')
    await like('PUT')
    await like('DELETE')
    const likes = (await about(card.id)).filter((e) => e.type.includes('liked'))
    t.same(likes.map((e) => [e.type, e.actorid, e.data.ownerId, e.data.likeCount]), [
      ['holo.card.liked.v1', fan.id, owner.id, 1],
      ['holo.card.unliked.v1', fan.id, owner.id, 0]
    ], 'the owner as the like statement read it, beside the count it made')
  })

  t.test('twenty likes at once: twenty events, every count once, numbered in commit order', async (t) => {
    const liked = await h.card(owner, { title: 'Crowd favourite' })
    const fans = Array.from({ length: 20 }, () => h.user())
    await Promise.all(fans.map(async (f) => await h.app.inject({
      method: 'PUT', url: `/api/v1/cards/${liked.id as string}/like`, headers: f.auth
    })))
    const likes = (await about(liked.id)).filter((e) => e.type === 'holo.card.liked.v1')
    t.same(likes.map((e) => e.data.likeCount), Array.from({ length: 20 }, (_, i) => i + 1),
      'the counts 1..20, in outbox order')
    t.same(likes.map((e) => e.subjectseq), Array.from({ length: 20 }, (_, i) => i + 2), 'after the create, 2..21')
    t.same(new Set(likes.map((e) => e.actorid)), new Set(fans.map((f) => f.id)), 'one per fan')
  })

  t.test('moderation, with the moderator as actor', async (t) => {
    const hide = async (action: 'hide' | 'unhide') => await h.app.inject({
      method: 'POST', url: `/api/v1/cards/${card.id as string}/${action}`, headers: mod.auth
    })
    const withReason = await h.app.inject({
      method: 'POST', url: `/api/v1/cards/${card.id as string}/hide`, headers: mod.auth, payload: { reason: 'spam' }
    })
    t.equal(withReason.statusCode, 200)
    t.equal((await hide('hide')).statusCode, 200, 'hidden again, without a body')
    t.equal((await h.app.inject({
      method: 'POST', url: `/api/v1/cards/${card.id as string}/hide`, headers: mod.auth, payload: { reason: '' }
    })).statusCode, 400, 'an empty reason is refused')
    t.equal((await hide('unhide')).statusCode, 200)
    const moderated = (await about(card.id)).filter((e) => e.type.includes('hidden'))
    t.same(moderated.map((e) => [e.type, e.actorid, e.data]), [
      ['holo.card.hidden.v1', mod.id, { ownerId: owner.id, reason: 'spam' }],
      ['holo.card.unhidden.v1', mod.id, { ownerId: owner.id }]
    ], 'each change once, the hide with its reason')
  })

  t.test('racing changes: the events always say what the committed rows say', async (t) => {
    const other = h.user(['moderator'])
    for (let round = 0; round < 8; round++) {
      const raced = await h.card(owner, { title: `Race ${round}`, visibility: 'private' })
      const url = `/api/v1/cards/${raced.id as string}`
      await Promise.all([
        h.app.inject({ method: 'PATCH', url, headers: owner.auth, payload: { visibility: 'public' } }),
        h.app.inject({ method: 'PATCH', url, headers: owner.auth, payload: { visibility: 'private' } }),
        h.app.inject({ method: 'POST', url: `${url}/hide`, headers: mod.auth }),
        h.app.inject({ method: 'POST', url: `${url}/unhide`, headers: other.auth })
      ])
      const events = await about(raced.id)
      const visibility = events.filter((e) => e.type === 'holo.card.visibility_changed.v1').at(-1)?.data.visibility ??
        'private'
      const hidden = events.filter((e) => e.type.endsWith('hidden.v1')).at(-1)?.type === 'holo.card.hidden.v1'
      const row = await h.deps.prisma.card.findUniqueOrThrow({ where: { id: raced.id } })
      t.equal(visibility, row.visibility, `round ${round}: the last visibility event is the row's`)
      t.equal(hidden, row.hiddenAt !== null, `round ${round}: the last moderation event is the row's`)
    }
  })

  t.test('reads by others count as views; the owner\'s do not', async (t) => {
    for (let i = 0; i < 3; i++) await h.app.inject({ url: `/api/v1/cards/${card.id as string}`, headers: fan.auth })
    await h.app.inject({ url: `/api/v1/cards/${card.id as string}` })
    await h.app.inject({ url: `/api/v1/cards/${card.id as string}`, headers: owner.auth })
    const views = async (): Promise<number> => (await about(card.id))
      .filter((e) => e.type === 'holo.card.views_counted.v1')
      .reduce((sum, e) => sum + Number(e.data.views), 0)
    t.ok(await eventually(async () => await views() === 4), 'four views: three by a fan, one anonymous')
    const [counted] = (await about(card.id)).filter((e) => e.type === 'holo.card.views_counted.v1')
    t.notOk('actorid' in (counted ?? {}), 'a count has no actor')
    t.ok(Date.parse(String(counted?.data.from)) <= Date.parse(String(counted?.data.to)), 'over a window')
  })

  t.test('templates and collections', async (t) => {
    const creator = h.user(['creator'])
    const made = await h.app.inject({ method: 'POST', url: '/api/v1/templates', headers: creator.auth, payload: TemplateExample })
    t.equal(made.statusCode, 201)
    const template = made.json()
    await h.app.inject({
      method: 'PATCH', url: `/api/v1/templates/${template.id as string}`, headers: creator.auth, payload: { status: 'published' }
    })
    t.same(await kinds(template.id), ['template.created', 'template.published'])
    const collection = (await h.app.inject({
      method: 'POST', url: '/api/v1/collections', headers: owner.auth, payload: { name: 'Dragons' }
    })).json()
    const put = async () => await h.app.inject({
      method: 'PUT', url: `/api/v1/collections/${collection.id as string}/cards/${card.id as string}`, headers: owner.auth
    })
    await put()
    await put()
    await h.app.inject({
      method: 'DELETE', url: `/api/v1/collections/${collection.id as string}/cards/${card.id as string}`, headers: owner.auth
    })
    t.same(await kinds(collection.id), ['collection.created', 'collection.card_added', 'collection.card_removed'])
    t.match((await about(collection.id))[1]?.data, { ownerId: owner.id, cardId: card.id, position: 0 })
  })

  t.test('a delete, then the card stream holds everything in outbox order', async (t) => {
    t.equal((await h.app.inject({ method: 'DELETE', url: `/api/v1/cards/${card.id as string}`, headers: fan.auth }))
      .statusCode, 403)
    t.equal((await h.app.inject({ method: 'DELETE', url: `/api/v1/cards/${card.id as string}`, headers: owner.auth }))
      .statusCode, 204)
    t.match((await about(card.id)).at(-1), { type: 'holo.card.deleted.v1', actorid: owner.id })
    const written = (await outboxEvents(h.db, 'card')).map((e) => e.id)
    t.ok(await eventually(async () =>
      (await streamedEvents(h.config.EVENTS_STREAM_PREFIX, 'card')).length === written.length))
    t.same((await streamedEvents(h.config.EVENTS_STREAM_PREFIX, 'card')).map((e) => e.id), written)
  })
})
