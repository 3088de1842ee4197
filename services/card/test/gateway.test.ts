import t from 'tap'
import { testGateway } from '@holo/infra/testing'
import { buildTestApp } from './helper.js'

t.test('through the gateway: routes, ETag and 304, problem+json, request id', async (t) => {
  const h = await buildTestApp(t)
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = h.app.server.address() as { port: number }
  const gw = await testGateway(t, { auth: '127.0.0.1:9', card: `127.0.0.1:${port}`, file: '127.0.0.1:9' })
  const alice = h.user()

  const created = await fetch(`${gw.url}/api/v1/cards`, {
    method: 'POST',
    headers: { ...alice.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Through nginx', tags: ['gw'] })
  })
  t.equal(created.status, 201)
  const card = await created.json() as { id: string }

  const read = await fetch(`${gw.url}/api/v1/cards/${card.id}`, { headers: { 'x-request-id': 'gw-test-1' } })
  t.equal(read.status, 200)
  t.equal(read.headers.get('x-request-id'), 'gw-test-1')
  t.equal(read.headers.get('cache-control'), 'public, no-cache')
  const etag = read.headers.get('etag') as string
  t.ok(etag)
  t.equal((await fetch(`${gw.url}/api/v1/cards/${card.id}`, { headers: { 'if-none-match': etag } })).status, 304)

  const list = await fetch(`${gw.url}/api/v1/cards?tag=gw`)
  t.same(((await list.json()) as { items: Array<{ id: string }> }).items.map((c) => c.id), [card.id])

  const col = await fetch(`${gw.url}/api/v1/collections`, {
    method: 'POST',
    headers: { ...alice.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'gw' })
  })
  const { id } = await col.json() as { id: string }
  t.equal((await fetch(`${gw.url}/api/v1/collections/${id}/cards/${card.id}`, {
    method: 'PUT',
    headers: alice.auth
  })).status, 204)
  t.equal((await fetch(`${gw.url}/api/v1/templates`)).status, 200)

  const missing = await fetch(`${gw.url}/api/v1/cards/00000000-0000-4000-8000-000000000000`)
  t.equal(missing.status, 404)
  t.equal(missing.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  t.equal(((await missing.json()) as { code: string }).code, 'CARD_NOT_FOUND')
})
