import t from 'tap'
import { buildTestApp } from './helper.js'

t.test('the app: readiness, its own schema, OpenAPI, metrics', async (t) => {
  const h = await buildTestApp(t)
  const { app } = h

  t.test('readiness: postgres critical, redis not', async (t) => {
    const res = await app.inject({ url: '/health/ready' })
    t.equal(res.statusCode, 200)
    t.match(res.json(), {
      status: 'ok',
      checks: { postgres: { status: 'ok', critical: true }, redis: { status: 'ok', critical: false } }
    })
  })

  t.test('reads and writes the card schema under its own role', async (t) => {
    await h.card(h.user())
    const rows = await h.deps.prisma.$queryRaw<Array<{ schema: string, who: string, n: number }>>`
      SELECT current_schema() AS schema, current_user AS who, (SELECT count(*)::int FROM card.cards) AS n`
    t.same(rows, [{ schema: 'card', who: 'holo_card', n: 1 }])
  })

  t.test('every API route is documented: tags, summary, problems, security, strict bodies with examples', async (t) => {
    const doc = (await app.inject({ url: '/openapi.json' })).json()
    const paths = Object.entries(doc.paths as Record<string, Record<string, any>>)
      .filter(([p]) => p.startsWith('/api/v1/'))
    t.ok(paths.length >= 10)
    let operations = 0
    for (const [path, methods] of paths) {
      for (const [method, op] of Object.entries(methods)) {
        const name = `${method.toUpperCase()} ${path}`
        operations++
        t.ok(op.tags?.length > 0 && typeof op.summary === 'string', `${name}: tags and summary`)
        t.ok(Object.keys(op.responses).some((s) => s.startsWith('4')), `${name}: problem responses`)
        t.ok(Array.isArray(op.security), `${name}: security declared`)
        const body = op.requestBody?.content?.['application/json']?.schema
        if (body !== undefined && body.anyOf === undefined) {
          t.equal(body.additionalProperties, false, `${name}: strict body`)
          const media = op.requestBody.content['application/json']
          t.ok(media.example ?? media.examples, `${name}: body examples`)
        }
      }
    }
    t.equal(operations, 24)
  })

  t.test('the document states the 4xx the code gives for valid-looking input', async (t) => {
    const doc = (await app.inject({ url: '/openapi.json' })).json()
    const list = doc.paths['/api/v1/cards'].get
    const sort = list.parameters.find((p: { name: string }) => p.name === 'sort')
    t.match(sort.description, /relevance needs q: without q it is a 400/)
    t.match(list.description, /`sort=relevance` needs `q`/)
    t.ok(list.responses['400'])
    const create = doc.paths['/api/v1/cards'].post
    t.match(create.description, /FILE_REFERENCE_INVALID/)
    t.match(create.description, /TEMPLATE_NOT_USABLE/)
    t.ok(create.responses['503'], 'the file service down')
    const body = create.requestBody.content['application/json'].schema
    t.match(body.properties.artworkFileId.description, /file service/)
    t.match(doc.paths['/api/v1/cards/{id}'].patch.description, /FILE_REFERENCE_INVALID/)
    t.match(doc.paths['/api/v1/templates'].get.description, /%, _ and \\ in it are plain characters/)
    t.match(doc.paths['/api/v1/collections/{id}/cards/{cardId}'].put.description, /409 COLLECTION_FULL/)
    const report = doc.paths['/api/v1/cards/{id}/reports'].post
    for (const code of ['404 CARD_NOT_FOUND', '400 OWN_CARD_REPORTED', '409 REPORT_ALREADY_OPEN']) t.match(report.description, code)
    const resolve = doc.paths['/api/v1/moderation/reports/{id}/resolve'].post
    for (const code of ['409 REPORT_ALREADY_RESOLVED', '404 REPORT_NOT_FOUND']) t.match(resolve.description, code)
    t.ok(resolve.responses['403'] && doc.paths['/api/v1/moderation/reports'].get.responses['403'], 'moderators only')
  })

  t.test('domain counters on /metrics', async (t) => {
    const text = (await app.inject({ url: '/metrics' })).body
    for (const name of ['cards_created_total', 'card_likes_total']) t.match(text, name)
    for (const cache of ['card', 'card_list']) {
      for (const result of ['hit', 'miss']) {
        t.match(
          text,
          new RegExp(`^cache_requests_total\\{[^}]*cache="${cache}",result="${result}"[^}]*\\} \\d+`, 'm'),
          `cache_requests_total ${cache} ${result}`
        )
      }
    }
  })
})
