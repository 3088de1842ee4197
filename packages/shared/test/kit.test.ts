// The service kit: auth modes and scopes (with their OpenAPI security and
// 401/403 responses), request.caller / request.viewer, the request guards
// (NUL characters, 405 with Allow), exact JSON bodies with coerced query
// strings, one log line per failed request, the error catalogue, cursors and
// conditional requests.
import { Writable } from 'node:stream'
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto'
import t, { type Test } from 'tap'
import { Type } from 'typebox'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { testRedisUrl, testRolesKey } from '@holo/infra/testing'
import {
  ACCESS_TOKEN_AUDIENCE, authenticated, commonErrors, createService, decodeCursor, defineErrors, encodeCursor,
  ifMatchPasses, noneMatch, optionalAuth, publicRoutes, revokedSessionKey, trustProxyOf, type ErrorCode, type Role
} from '../src/index.js'

type Line = Record<string, unknown>
class Capture extends Writable {
  readonly lines: Line[] = []
  override _write (chunk: Buffer, _e: BufferEncoding, done: () => void): void {
    for (const l of chunk.toString().split('\n')) if (l.trim() !== '') this.lines.push(JSON.parse(l) as Line)
    done()
  }
}

const { privateKey, publicKey } = generateKeyPairSync('ed25519')
const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString()
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')
function token (roles: Role[] = ['user'], sub = randomUUID(), o: { sid?: string, ttl?: number } = {}): string {
  const now = Math.floor(Date.now() / 1000)
  const input = `${b64({ alg: 'EdDSA', typ: 'JWT', kid: 'k1' })}.${b64({
    sub,
    sid: o.sid ?? randomUUID(),
    roles,
    iss: 'kit-test',
    aud: ACCESS_TOKEN_AUDIENCE,
    iat: now,
    exp: now + (o.ttl ?? 300),
    jti: randomUUID()
  })}`
  return `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`
}

async function build (t: Test): Promise<{ app: FastifyInstance, logs: Capture }> {
  const redis = new Redis(testRedisUrl(), { lazyConnect: true })
  await redis.connect()
  const logs = new Capture()
  const app = await createService({
    name: 'kit',
    title: 'kit',
    description: 'kit',
    config: { LOG_LEVEL: 'info' },
    logStream: logs,
    checks: {},
    auth: {
      keys: { get: async (kid) => kid === 'k1' ? pem : undefined },
      issuer: 'kit-test',
      redis,
      // Nothing writes this key: the built-in roles apply.
      registry: { key: testRolesKey() }
    },
    modules: async (app) => {
      const reply = async (request: { viewer: unknown }): Promise<object> => ({ viewer: request.viewer })
      await app.register(publicRoutes(async (app) => {
        app.get('/public', { schema: { response: { 200: Type.Object({}, { additionalProperties: true }) } } }, reply)
      }))
      await app.register(optionalAuth(async (app) => {
        app.get('/optional', { schema: { response: { 200: Type.Object({}, { additionalProperties: true }) } } }, reply)
        // A route may still declare its own mode inside a scope.
        app.get('/optional/strict', { config: { auth: 'required' } }, async (request) => ({ id: request.caller.id }))
      }))
      await app.register(authenticated(async (app) => {
        app.get('/me', {
          schema: { response: { 200: Type.Object({ id: Type.String() }) } }
        }, async (request) => ({ id: request.caller.id }))
        app.post('/things', {
          schema: {
            querystring: Type.Object({ n: Type.Optional(Type.Integer()) }),
            body: Type.Object({
              name: Type.String(),
              tags: Type.Optional(Type.Array(Type.String()))
            }, { additionalProperties: false })
          }
        }, async (request) => ({ body: request.body, query: request.query }))
      }))
      await app.register(authenticated(async (app) => {
        app.get('/moderation', {
          schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } }
        }, async () => ({ ok: true }))
      }, { permissions: ['cards.hide'] }))
      app.get('/caller-anyway', { config: { auth: 'public' } }, async (request) => ({ id: request.caller.id }))
      app.get('/items/:id', { config: { auth: 'public' } }, async (request) => request.params)
      app.get('/boom', { config: { auth: 'public' } }, async () => { throw new Error('secret internals at db.ts:42') })
    }
  })
  t.teardown(async () => { await app.close(); redis.disconnect() })
  return { app, logs }
}

t.test('auth modes: public ignores tokens, optional verifies one when sent, required needs one', async (t) => {
  const { app } = await build(t)
  const bad = { authorization: 'Bearer not-a-token' }
  const user = { authorization: `Bearer ${token()}` }

  t.same(
    (await app.inject({ url: '/public', headers: bad })).json(),
    { viewer: null },
    'a bad token is ignored where none is needed'
  )
  t.equal(
    (await app.inject({ url: '/public', headers: user })).json().viewer,
    null,
    'public routes do not even read a good one'
  )

  t.equal((await app.inject({ url: '/optional' })).json().viewer, null)
  t.equal((await app.inject({ url: '/optional', headers: bad })).statusCode, 401, 'optional: a bad token is refused')
  t.match((await app.inject({ url: '/optional', headers: user })).json().viewer, { roles: ['user'] })

  const anon = await app.inject({ url: '/me' })
  t.equal(anon.statusCode, 401)
  t.match(anon.headers['content-type'], /^application\/problem\+json/)
  t.equal(anon.headers['www-authenticate'], 'Bearer')
  t.equal((await app.inject({ url: '/me', headers: user })).statusCode, 200)
  t.equal((await app.inject({ url: '/optional/strict' })).statusCode, 401, 'a route mode beats its scope')
  t.equal((await app.inject({ url: '/caller-anyway' })).statusCode, 401, 'request.caller without a caller is a 401')
})

t.test('a token verified once is not decoded again, yet its revocation and its expiry still apply', async (t) => {
  const { app } = await build(t)
  const redis = new Redis(testRedisUrl())
  t.teardown(() => { redis.disconnect() })
  const me = async (tok: string) => await app.inject({ url: '/me', headers: { authorization: `Bearer ${tok}` } })

  const sid = randomUUID()
  const revokedLater = token(['user'], randomUUID(), { sid })
  t.equal((await me(revokedLater)).statusCode, 200)
  t.equal((await me(revokedLater)).statusCode, 200, 'again, from the verified tokens')
  await redis.set(revokedSessionKey(sid), '1', 'EX', 60)
  // The "not revoked" answer is reused for up to 500 ms.
  await new Promise((resolve) => setTimeout(resolve, 600))
  const revoked = await me(revokedLater)
  t.equal(revoked.statusCode, 401, 'a revoked session is refused')
  t.equal(revoked.json().code, 'SESSION_REVOKED')

  const shortLived = token(['user'], randomUUID(), { ttl: 1 })
  t.equal((await me(shortLived)).statusCode, 200)
  await new Promise((resolve) => setTimeout(resolve, 2100))
  const expired = await me(shortLived)
  t.equal(expired.statusCode, 401, 'an expired token is refused although it was verified before')
  t.equal(expired.json().code, 'TOKEN_EXPIRED')
})

t.test('permissions as route options: 403 naming the missing one, granted by the roles in the token', async (t) => {
  const { app } = await build(t)
  const as = async (roles: Role[]) =>
    await app.inject({ url: '/moderation', headers: { authorization: `Bearer ${token(roles)}` } })
  const refused = await as(['user'])
  t.equal(refused.statusCode, 403)
  t.match(refused.headers['content-type'], /^application\/problem\+json/)
  t.match(refused.json().detail, /cards\.hide/)
  t.equal((await as(['user', 'creator'])).statusCode, 403)
  t.equal((await as(['moderator'])).statusCode, 200)
  t.equal((await as(['admin'])).statusCode, 200)
  t.equal((await as(['no-such-role'])).statusCode, 403, 'an unknown role grants nothing')
  t.equal((await app.inject({ url: '/moderation' })).statusCode, 401)
})

t.test('a route naming roles is refused when it is registered', async (t) => {
  const redis = new Redis(testRedisUrl(), { lazyConnect: true })
  await redis.connect()
  t.teardown(() => { redis.disconnect() })
  const built = createService({
    name: 'kit',
    title: 'kit',
    description: 'kit',
    config: { LOG_LEVEL: 'silent' },
    checks: {},
    auth: { keys: { get: async () => undefined }, issuer: 'kit-test', redis, registry: { key: testRolesKey() } },
    modules: async (app) => {
      // @ts-expect-error roles are no route option any more
      app.get('/old', { config: { auth: 'required', roles: ['moderator'] } }, async () => ({}))
    }
  })
  await t.rejects(built, /names roles: declare the permissions/)
})

t.test('the OpenAPI document follows the auth mode of each route', async (t) => {
  const { app } = await build(t)
  const doc = (await app.inject({ url: '/openapi.json' })).json()
  t.same(doc.paths['/public'].get.security, [])
  t.notOk(doc.paths['/public'].get.responses['401'], 'no 401 where no token is read')
  t.same(doc.paths['/optional'].get.security, [{}, { bearerAuth: [] }])
  t.ok(doc.paths['/optional'].get.responses['401'])
  t.same(doc.paths['/me'].get.security, [{ bearerAuth: [] }])
  t.ok(doc.paths['/me'].get.responses['401'])
  t.notOk(doc.paths['/me'].get.responses['403'])
  t.ok(doc.paths['/moderation'].get.responses['403'])
})

t.test('JSON bodies are not coerced; query strings are', async (t) => {
  const { app } = await build(t)
  const headers = { authorization: `Bearer ${token()}` }
  const wrong = await app.inject({ method: 'POST', url: '/things', headers, payload: { name: false } })
  t.equal(wrong.statusCode, 400)
  t.match(wrong.json().errors, [{ field: 'name', in: 'body' }])
  const notArray = await app.inject({ method: 'POST', url: '/things', headers, payload: { name: 'a', tags: 'AAA' } })
  t.equal(notArray.statusCode, 400, 'a string is not an array')
  t.match(notArray.json().errors, [{ field: 'tags', in: 'body' }])
  const ok = await app.inject({ method: 'POST', url: '/things?n=7', headers, payload: { name: 'a', tags: ['x'] } })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { body: { name: 'a', tags: ['x'] }, query: { n: 7 } }, 'the query string is coerced')
})

t.test('a NUL character anywhere in body, query or params is a 400 naming the field', async (t) => {
  const { app } = await build(t)
  const headers = { authorization: `Bearer ${token()}` }
  const body = await app.inject({ method: 'POST', url: '/things', headers, payload: { name: 'a\u0000b' } })
  t.equal(body.statusCode, 400)
  t.match(body.headers['content-type'], /^application\/problem\+json/)
  t.match(body.json(), {
    code: 'VALIDATION_FAILED',
    errors: [{ field: 'name', in: 'body', message: 'must not contain NUL characters' }]
  })
  const nested = await app.inject({
    method: 'POST',
    url: '/things',
    headers,
    payload: { name: 'a', tags: ['ok', 'x\u0000'] }
  })
  t.match(nested.json().errors, [{ field: 'tags.1', in: 'body' }])
  const query = await app.inject({ method: 'POST', url: '/things?n=a%00b', headers, payload: { name: 'a' } })
  t.match(query.json().errors, [{ field: 'n', in: 'querystring' }])
  t.equal((await app.inject({ url: '/public?q=a%00b' })).statusCode, 400, 'even where the query has no schema')
})

t.test('a known path with an undeclared method is a 405 with Allow; an unknown path a 404', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({ method: 'DELETE', url: '/me' })
  t.equal(res.statusCode, 405)
  t.equal(res.headers.allow, 'GET, HEAD')
  t.match(res.json(), { status: 405, code: 'METHOD_NOT_ALLOWED' })
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  const put = await app.inject({ method: 'PUT', url: '/things' })
  t.equal(put.headers.allow, 'POST')
  t.equal((await app.inject({ url: '/nowhere' })).statusCode, 404)
})

t.test('a failed request writes one log line, with why it failed', async (t) => {
  const { app, logs } = await build(t)
  await app.inject({ url: '/me', headers: { 'x-request-id': 'kit-401' } })
  await app.inject({ url: '/boom', headers: { 'x-request-id': 'kit-500' } })
  const of = (id: string): Line[] => logs.lines.filter((l) => l.requestId === id)
  t.equal(of('kit-401').length, 1)
  t.match(of('kit-401')[0], { msg: 'request completed', status: 401, code: 'UNAUTHORIZED', level: 'warn' })
  t.equal(of('kit-500').length, 1)
  t.match(of('kit-500')[0], { status: 500, code: 'INTERNAL', level: 'error', err: { message: /secret internals/ } })
})

t.test('error catalogues: typed codes, titles from the status', async (t) => {
  const errors = defineErrors({
    THING_NOT_FOUND: () => ({ status: 404, detail: 'No such thing' }),
    THING_CHANGED: (what: string) => ({ status: 412, detail: `The ${what} changed` })
  })
  const code: ErrorCode<typeof errors> = 'THING_CHANGED'
  const e = errors[code]('card')
  t.match(e, { statusCode: 412, code: 'THING_CHANGED', title: 'Precondition Failed', detail: 'The card changed' })
  t.match(commonErrors.RATE_LIMITED(30), { statusCode: 429, headers: { 'retry-after': '30' } })
})

t.test('cursors: opaque, bound to their listing, every forgery the same 400', async (t) => {
  const c = encodeCursor('n', ['2026-01-01T00:00:00.000Z', randomUUID()])
  t.equal(decodeCursor(c, 'n', ['s', 's']).length, 2)
  for (const bad of [
    '%%%',
    Buffer.from('[1]').toString('base64url'),
    encodeCursor('p', [1, 'x']),
    encodeCursor('n', ['a'])
  ]) {
    t.throws(() => decodeCursor(bad, 'n', ['s', 's']), { statusCode: 400, code: 'INVALID_CURSOR' })
  }
  t.throws(() => decodeCursor(encodeCursor('n', [Number.NaN]), 'n', ['n']), { code: 'INVALID_CURSOR' })
})

t.test('conditional requests: weak If-None-Match, strong If-Match', async (t) => {
  t.ok(noneMatch('W/"a"', '"a"'))
  t.ok(noneMatch('"b", "a"', 'W/"a"'))
  t.ok(noneMatch('*', '"a"'))
  t.notOk(noneMatch('"b"', '"a"'))
  t.notOk(noneMatch(undefined, '"a"'))
  t.ok(ifMatchPasses(undefined, '"a"'))
  t.ok(ifMatchPasses('"a"', '"a"'))
  t.ok(ifMatchPasses('*', '"a"'))
  t.notOk(ifMatchPasses('W/"a"', '"a"'), 'a weak tag never passes If-Match')
  t.notOk(ifMatchPasses('"b"', '"a"'))
})

t.test('TRUST_PROXY never trusts every hop', async (t) => {
  t.equal(trustProxyOf('1'), 1)
  t.equal(trustProxyOf('loopback, 10.0.0.0/8'), 'loopback, 10.0.0.0/8')
  t.throws(() => trustProxyOf('true'), /TRUST_PROXY/)
})

t.test('the router\'s own refusals are problems, and the documents declare what the core answers', async (t) => {
  const { app } = await build(t)
  const long = await app.inject({ url: `/items/${'x'.repeat(300)}` })
  t.equal(long.statusCode, 400, 'a path parameter too long for any id')
  t.match(long.headers['content-type'], /^application\/problem\+json/)
  t.match(long.json(), { status: 400, code: 'VALIDATION_FAILED' })
  const encoded = await app.inject({ url: '/optional/%C0%AF' })
  t.equal(encoded.statusCode, 400)
  t.match(encoded.headers['content-type'], /^application\/problem\+json/)
  t.match(encoded.json(), { status: 400, code: 'MALFORMED_URL' })
  const doc = (await app.inject({ url: '/openapi.json' })).json()
  t.ok(doc.paths['/things'].post.responses['415'], 'a route with a body documents 415')
  t.ok(doc.paths['/things'].post.responses['400'], 'and 400')
  t.notOk(doc.paths['/me'].get.responses['415'], 'a route without a body does not')
})
