// The app as a whole: readiness (PostgreSQL critical, Redis not, the consumer's lag never), a complete OpenAPI
// document, the bus's metrics, and a clean close with the consumer running.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeEvent } from '@holo/events'
import { buildTestApp, eventually } from './helper.js'

t.test('the app: readiness, OpenAPI, metrics', async (t) => {
  const ta = await buildTestApp(t)
  const { app } = ta

  t.test('readiness: postgres critical, redis not; lag does not count', async (t) => {
    // A backlog the consumer has not read yet: the service is ready all the same.
    for (let i = 0; i < 50; i++) {
      await ta.publish('card', makeEvent('holo.card.liked.v1', {
        subject: randomUUID(), actorId: randomUUID(), data: { ownerId: randomUUID(), likeCount: i }
      }))
    }
    const res = await app.inject({ url: '/health/ready' })
    t.equal(res.statusCode, 200)
    t.same(Object.keys(res.json().checks).sort(), ['postgres', 'redis'])
    t.match(res.json(), {
      status: 'ok',
      checks: { postgres: { status: 'ok', critical: true }, redis: { status: 'ok', critical: false } }
    })
    t.ok(await eventually(async () => await ta.logCount() === 50))
  })

  t.test('every route is documented: tags, summary, query and problem schemas, security', async (t) => {
    const doc = (await app.inject({ url: '/openapi.json' })).json()
    t.equal(doc.info.title, 'Holo Cards audit service')
    const paths = Object.entries(doc.paths as Record<string, Record<string, any>>)
      .filter(([p]) => p.startsWith('/api/v1/'))
    const operations: string[] = []
    for (const [path, methods] of paths) {
      for (const [method, op] of Object.entries(methods)) {
        const name = `${method.toUpperCase()} ${path}`
        operations.push(name)
        t.ok(op.tags?.length > 0 && typeof op.summary === 'string', `${name}: tags and summary`)
        t.ok(op.responses['200']?.content?.['application/json']?.schema, `${name}: 200 schema`)
        for (const s of ['401', '403']) t.ok(op.responses[s], `${name}: ${s}`)
        t.same(op.security, [{ bearerAuth: [] }], `${name}: security`)
      }
    }
    t.same(operations.sort(), [
      'GET /api/v1/audit/events',
      'GET /api/v1/audit/verify',
      'GET /api/v1/events/consumers',
      'GET /api/v1/events/dead-letters',
      'POST /api/v1/events/dead-letters/replay',
      'POST /api/v1/events/dead-letters/{id}/replay'
    ])
    const list = doc.paths['/api/v1/audit/events'].get
    t.same(list.parameters.map((p: { name: string }) => p.name).sort(),
      ['actorId', 'cursor', 'from', 'limit', 'subject', 'to', 'type'])
    t.ok(list.responses['400'])
    t.match(list.description, /holo\.card\.hidden\.v1, holo\.card\.unhidden\.v1/)
    const item = list.responses['200'].content['application/json'].schema.properties.items.items
    t.same(Object.keys(item.properties).sort(), [
      'actorId', 'data', 'id', 'ip', 'requestId', 'source', 'subject', 'subjectSeq', 'time', 'traceparent', 'type'
    ])
    const replay = doc.paths['/api/v1/events/dead-letters/{id}/replay'].post
    t.ok(replay.responses['404'] && replay.responses['409'])
  })

  t.test('the bus\'s metrics on /metrics', async (t) => {
    const text = (await app.inject({ url: '/metrics' })).body
    t.match(text, /^events_consumed_total\{[^}]*group="audit"[^}]*outcome="applied"[^}]*\} 50$/m)
    t.match(text, /^events_consumer_lag\{[^}]*group="audit"[^}]*stream="[^"]*card"[^}]*\} 0$/m)
    t.match(text, /^events_dead_letters\{[^}]*group="audit"[^}]*\} 0$/m)
  })
})

t.test('close stops the consumer before the clients go; later events wait for the next instance', async (t) => {
  const ta = await buildTestApp(t)
  await ta.app.close()
  const e = makeEvent('holo.user.enabled.v1', { subject: randomUUID(), actorId: randomUUID(), data: {} })
  await ta.publish('auth', e)
  const info = await ta.redis.call('XINFO', 'GROUPS', `${ta.prefix}auth`) as unknown[][]
  const group = info[0] ?? []
  t.equal(group[group.indexOf('lag') + 1], 1, 'not read by the closed app')
  t.equal(await ta.logCount(), 0)
})
