import t from 'tap'
import { outboxEvents } from '@holo/infra/testing'
import { Registry } from 'prom-client'
import { v7 as uuidv7 } from 'uuid'
import { cardCreated } from '../src/modules/cards/cards.events.js'
import { CardRepository, type NewCard } from '../src/modules/cards/cards.repository.js'
import { buildTestApp } from './helper.js'

const newCard = (ownerId: string, title: string): NewCard => ({
  id: uuidv7(),
  ownerId,
  title,
  description: `about ${title}`,
  templateId: null,
  artworkFileId: null,
  holo: { effect: 'galaxy', intensity: 0.25, angle: 90, pattern: null, colors: ['#ff00aa'] },
  rarity: 'rare',
  tags: [title.toLowerCase()],
  visibility: 'public'
})

t.test('creates arriving together share one INSERT; each caller gets its own card', async (t) => {
  const h = await buildTestApp(t)
  const users = Array.from({ length: 30 }, () => h.user())
  const res = await Promise.all(users.map((u, i) => h.app.inject({
    method: 'POST',
    url: '/api/v1/cards',
    headers: u.auth,
    payload: {
      title: `Card ${i}`,
      tags: [`Tag-${i}`],
      holo: { intensity: i / 100 },
      visibility: i % 2 === 0 ? 'public' : 'private'
    }
  })))
  t.same(res.map((r) => r.statusCode), users.map(() => 201))
  const bodies = res.map((r) => r.json())
  bodies.forEach((b, i) => {
    t.equal(b.ownerId, users[i]?.id)
    t.equal(b.title, `Card ${i}`)
    t.same(b.tags, [`tag-${i}`])
    t.equal(b.holo.intensity, i / 100)
    t.equal(b.visibility, i % 2 === 0 ? 'public' : 'private')
    t.equal(res[i]?.headers.location, `/api/v1/cards/${b.id as string}`)
  })
  t.equal(new Set(bodies.map((b) => b.id)).size, 30, 'thirty distinct ids')
  // Each one is really there, as its owner reads it.
  for (const [i, b] of bodies.entries()) {
    const read = await h.app.inject({ url: `/api/v1/cards/${b.id as string}`, headers: users[i]?.auth })
    t.equal(read.json().title, `Card ${i}`)
  }
  const metrics = await h.app.metrics.getSingleMetricAsString('card_insert_batch_size')
  const count = Number(/card_insert_batch_size_count\S* (\d+)/.exec(metrics)?.[1])
  const sum = Number(/card_insert_batch_size_sum\S* (\d+)/.exec(metrics)?.[1])
  t.equal(sum, 30, 'every card went through an INSERT once')
  t.ok(count < 30, `fewer statements than cards (${count})`)
  const created = await outboxEvents(h.db, 'card', ['holo.card.created.v1'])
  t.same(created.map((e) => e.subject).sort(), bodies.map((b) => b.id as string).sort(), 'one card.created each')
  t.ok(created.every((e, i) => e.actorid === e.data.ownerId && e.requestid !== created[(i + 1) % 30]?.requestid),
    'each event names its own request, though the inserts were shared')
})

t.test('a row the database refuses fails alone; the rest of its batch commits', async (t) => {
  const h = await buildTestApp(t)
  const repo = new CardRepository(h.deps.prisma, h.config.DATABASE_SCHEMA, new Registry(), h.deps.adapter.pool)
  const owner = h.user().id
  // Past the HTTP schema, so only the table's CHECK constraint can refuse it.
  const titles = ['First', 'x'.repeat(200), 'Third', 'Fourth']
  const results = await Promise.allSettled(titles.map(async (title) => {
    const card = newCard(owner, title)
    return await repo.create(card, [cardCreated(card)])
  }))
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
  const rows = await h.deps.prisma.card.findMany({ where: { ownerId: owner }, orderBy: { title: 'asc' } })
  t.same(rows.map((r) => r.title), ['First', 'Fourth', 'Third'])
  t.same((await outboxEvents(h.db, 'card', ['holo.card.created.v1'])).map((e) => e.data.title).sort(),
    ['First', 'Fourth', 'Third'], 'the refused card published nothing, the others their event')
  const first = results[0]
  if (first?.status === 'fulfilled') {
    t.equal(first.value.description, 'about First')
    t.same(first.value.holo, { effect: 'galaxy', intensity: 0.25, angle: 90, pattern: null, colors: ['#ff00aa'] })
    t.same(first.value.tags, ['first'])
    t.equal(first.value.version, 1)
    t.equal(first.value.likeCount, 0)
    t.ok(first.value.createdAt instanceof Date)
  }
})
