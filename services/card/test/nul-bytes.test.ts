import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { TemplateExample } from '../src/modules/templates/templates.schemas.js'
import { buildTestApp } from './helper.js'

// PostgreSQL text cannot hold U+0000: such input is the client's mistake (400 naming the field), never a 500.
// The refusal itself is global (packages/shared); these pin it on the card service's routes.
t.test('a NUL character is a 400 problem naming the field', async (t) => {
  const h = await buildTestApp(t)
  const { app } = h
  const alice = h.user()
  const creator = h.user(['creator'])
  const refused = (res: LightMyRequestResponse, field: string, what: string): void => {
    t.equal(res.statusCode, 400, `${what}: ${res.body}`)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', what)
    const errors = (res.json().errors ?? []) as Array<{ field: string }>
    t.ok(errors.some((e) => e.field === field), `${what} names ${field}`)
  }
  const card = await h.card(alice, { title: 'Nul test' })

  refused(await app.inject({
    method: 'POST', url: '/api/v1/cards', headers: alice.auth, payload: { title: 'a\u0000b' }
  }), 'title', 'card create')
  refused(await app.inject({
    method: 'PATCH', url: `/api/v1/cards/${card.id as string}`, headers: alice.auth, payload: { title: 'a\u0000b' }
  }), 'title', 'card update')
  refused(await app.inject({
    method: 'POST', url: '/api/v1/collections', headers: alice.auth, payload: { name: 'a\u0000b' }
  }), 'name', 'collection create')
  refused(await app.inject({
    method: 'POST',
    url: '/api/v1/templates',
    headers: creator.auth,
    payload: { name: 'a\u0000b', layout: TemplateExample.layout }
  }), 'name', 'template create')
  refused(await app.inject({ url: '/api/v1/cards?q=a%00b' }), 'q', 'card search')
  refused(await app.inject({ url: '/api/v1/cards?q=zzzz%00qqqq' }), 'q', 'card search that would fall back to trigrams')
  refused(await app.inject({ url: '/api/v1/templates?q=a%00b' }), 'q', 'template search')
  t.equal((await app.inject({ url: `/api/v1/cards/${card.id as string}` })).json().title, 'Nul test', 'nothing changed')
})
