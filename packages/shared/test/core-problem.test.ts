// The core plugin's contract every service relies on: RFC 9457 problem+json
// for every error (validation errors list each field; no stack or internals),
// the request id in the header, the body and every log line of the request.
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { Type } from 'typebox'
import { corePlugin, serviceFastifyOptions } from '../src/index.js'

type Line = Record<string, unknown>

class Capture extends Writable {
  readonly lines: Line[] = []
  override _write (chunk: Buffer, _e: BufferEncoding, done: () => void): void {
    for (const l of chunk.toString().split('\n')) if (l.trim() !== '') this.lines.push(JSON.parse(l) as Line)
    done()
  }
}

async function build (t: Test, checks: Parameters<typeof corePlugin>[1]['checks'] = {}) {
  const logs = new Capture()
  const app = Fastify(serviceFastifyOptions({ service: 'probe', logLevel: 'info', logStream: logs }))
  await app.register(corePlugin, { service: 'probe', openapi: { title: 'probe', description: 'probe' }, checks })
  app.post('/api/v1/things/:id', {
    schema: {
      params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) }),
      body: Type.Object({
        name: Type.String({ minLength: 1 }),
        count: Type.Integer(),
        tags: Type.Array(Type.String())
      }, { additionalProperties: false })
    }
  }, async () => ({ ok: true }))
  app.get('/boom', async () => { throw new Error('SELECT secret FROM internals failed at db.ts:42') })
  app.get('/redis-down', async () => { throw Object.assign(new Error('Connection is closed.'), { name: 'Error' }) })
  t.teardown(() => app.close())
  return { app, logs }
}

const problemKeys = ['type', 'title', 'status', 'detail', 'instance', 'requestId']

t.test('a validation error lists each bad field', async (t) => {
  const { app, logs } = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/things/not-a-uuid?limit=0',
    headers: { 'x-request-id': 'req-validation-1' },
    payload: { count: 'many', tags: 'x', extra: true }
  })
  t.equal(res.statusCode, 400)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  const body = res.json()
  for (const k of problemKeys) t.ok(k in body, `has ${k}`)
  t.match(body, {
    status: 400,
    title: 'Bad Request',
    code: 'VALIDATION_FAILED',
    instance: '/api/v1/things/not-a-uuid',
    requestId: 'req-validation-1'
  })
  t.match(body.type, /^https:\/\//)
  // Fastify validates params first and stops at the first failing part.
  t.same(body.errors.map((e: { field: string, in: string }) => `${e.in}:${e.field}`), ['params:id'])

  const res2 = await app.inject({
    method: 'POST',
    url: '/api/v1/things/0190b9a0-0000-7000-8000-000000000000',
    payload: { count: 'many', tags: [{}], extra: true }
  })
  const body2 = res2.json()
  t.equal(res2.statusCode, 400)
  const fields = body2.errors.map((e: { field: string, in: string }) => `${e.in}:${e.field}`).sort()
  t.same(fields, ['body:count', 'body:extra', 'body:name', 'body:tags.0'], 'every bad body field is listed')
  for (const e of body2.errors) t.type(e.message, 'string')
  for (const f of ['count', 'extra', 'name', 'tags']) t.match(body2.detail, f, `detail mentions ${f}`)
  const lines = logs.lines.filter((l) => l.requestId === 'req-validation-1')
  t.equal(lines.length, 1, 'one log line for the failed request')
  t.match(lines[0], {
    msg: 'request completed',
    level: 'warn',
    status: 400,
    code: 'VALIDATION_FAILED'
  }, 'at warn, with why')
})

t.test('an unexpected error is a generic 500: no message, stack or SQL reaches the client', async (t) => {
  const { app, logs } = await build(t)
  const res = await app.inject({ url: '/boom', headers: { 'x-request-id': 'req-boom-1' } })
  t.equal(res.statusCode, 500)
  const body = res.json()
  t.match(body, { status: 500, code: 'INTERNAL', requestId: 'req-boom-1', instance: '/boom' })
  t.notMatch(res.body, /SELECT|secret|db\.ts|stack|at /, 'nothing internal in the body')
  const err = logs.lines.find((l) =>
    l.requestId === 'req-boom-1' && l.level === 'error' && l.msg === 'request completed')
  t.match((err?.err as { message?: string } | undefined)?.message, /SELECT secret/, 'the cause is in the log instead')
})

t.test('an unavailable dependency is a 503 naming it', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({ url: '/redis-down' })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { status: 503, code: 'DEPENDENCY_UNAVAILABLE', dependency: 'redis' })
  t.equal(res.headers['retry-after'], '5')
})

t.test('malformed JSON and unknown routes are problems too', async (t) => {
  const { app } = await build(t)
  const bad = await app.inject({
    method: 'POST',
    url: '/api/v1/things/0190b9a0-0000-7000-8000-000000000000',
    headers: { 'content-type': 'application/json' },
    payload: '{"name":'
  })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { code: 'MALFORMED_JSON', status: 400 })
  const missing = await app.inject({ url: '/api/v1/nowhere?x=1' })
  t.equal(missing.statusCode, 404)
  t.match(missing.headers['content-type'], /^application\/problem\+json/)
  t.match(missing.json(), { code: 'ROUTE_NOT_FOUND', instance: '/api/v1/nowhere' })
})

t.test('request ids: generated when absent, kept when sane, replaced when not, on every log line', async (t) => {
  const { app, logs } = await build(t)
  const none = await app.inject({ url: '/api/v1/nowhere' })
  const generated = none.headers['x-request-id'] as string
  t.match(generated, /^[0-9a-f-]{36}$/, 'a UUID is generated')
  t.equal(none.json().requestId, generated)

  const kept = await app.inject({ url: '/boom', headers: { 'x-request-id': 'gw-0123abc' } })
  t.equal(kept.headers['x-request-id'], 'gw-0123abc')
  const lines = logs.lines.filter((l) => l.requestId === 'gw-0123abc')
  t.equal(lines.length, 1, 'one line for the failed request')
  t.match(lines[0], { msg: 'request completed', status: 500, code: 'INTERNAL' })

  const unsafe = await app.inject({ url: '/api/v1/nowhere', headers: { 'x-request-id': 'x'.repeat(200) } })
  t.not(unsafe.headers['x-request-id'], 'x'.repeat(200))
  t.match(unsafe.headers['x-request-id'], /^[0-9a-f-]{36}$/)

  const requestLines = logs.lines.filter((l) => l.msg === 'request completed')
  t.ok(requestLines.length >= 3)
  for (const l of requestLines) t.type(l.requestId, 'string', 'every request line has a request id')
})

t.test('readiness names the failed dependency; a non-critical one only degrades', async (t) => {
  let up = false
  const { app } = await build(t, {
    postgres: { check: async () => 1 },
    cache: { check: async () => { if (!up) throw new Error('down') }, critical: false },
    queue: { check: async () => { if (!up) throw new Error('ECONNREFUSED') } }
  })
  const down = await app.inject({ url: '/health/ready' })
  t.equal(down.statusCode, 503)
  t.match(down.json(), {
    status: 'unavailable',
    checks: {
      postgres: { status: 'ok' },
      queue: { status: 'down', error: 'queue is unreachable' },
      cache: { status: 'down', critical: false }
    }
  })
  t.notMatch(down.body, /ECONNREFUSED/, 'the cause stays in the log')
  up = true
  const back = await app.inject({ url: '/health/ready' })
  t.equal(back.statusCode, 200)
  t.equal(back.json().status, 'ok')
  t.equal((await app.inject({ url: '/health/live' })).statusCode, 200)
})
