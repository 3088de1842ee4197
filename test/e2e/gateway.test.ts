// End to end through the real nginx gateway (gateway/nginx.conf rendered for
// local ports) in front of the three real services, each on a fresh database.
import { randomUUID } from 'node:crypto'
import net from 'node:net'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import t, { type Test } from 'tap'
import { freePort, testDatabase, testGateway, testIssuer, testRedisUrl, testS3 } from '@holo/infra/testing'
import { eventually, startService, type RunningService, type ServiceName } from './helpers.js'

const db = await testDatabase(t)
const s3 = await testS3(t)
const issuer = await testIssuer(t)
const common = { REDIS_URL: testRedisUrl(), AUTH_JWKS_URL: issuer.jwksUrl }
const services: Record<ServiceName, RunningService> = {
  auth: await startService(t, 'auth', {
    ...common,
    DATABASE_URL: db.urlFor('auth'),
    RATE_LIMIT_NAMESPACE: `e2e:${randomUUID()}:`
  }),
  card: await startService(t, 'card', { ...common, DATABASE_URL: db.urlFor('card') }),
  file: await startService(t, 'file', {
    ...common,
    DATABASE_URL: db.urlFor('file'),
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: `e2e-${randomUUID().slice(0, 8)}`
  }),
  notification: await startService(t, 'notification', { ...common, DATABASE_URL: db.urlFor('notification') }),
  analytics: await startService(t, 'analytics', { ...common, DATABASE_URL: db.urlFor('analytics') }),
  audit: await startService(t, 'audit', { ...common, DATABASE_URL: db.urlFor('audit') }),
  billing: await startService(t, 'billing', { ...common, DATABASE_URL: db.urlFor('billing') })
}
const upstream = (s: RunningService): string => `127.0.0.1:${s.port}`
const gw = await testGateway(t, Object.fromEntries(
  Object.entries(services).map(([name, s]) => [name, upstream(s)])
) as Record<ServiceName, string>)

const newId = (): string => `e2e-${randomUUID()}`

/** The services whose log has a line of this request (lines are written once the response is sent). */
async function servicesThatLogged (requestId: string, expectAny: boolean): Promise<ServiceName[]> {
  const who = (): ServiceName[] => (Object.keys(services) as ServiceName[])
    .filter((n) => services[n].logs.withRequestId(requestId).length > 0)
  if (expectAny) await eventually(async () => who().length > 0, { tries: 50, intervalMs: 50 })
  return who()
}

function assertProblem (t: Test, res: Response, body: Record<string, unknown>, status: number, pathname: string): void {
  t.equal(res.status, status, 'status')
  t.match(res.headers.get('content-type'), /^application\/problem\+json/, 'problem+json content type')
  t.equal(body.status, status, 'body.status matches')
  t.type(body.type, 'string')
  t.type(body.title, 'string')
  t.type(body.detail, 'string')
  t.equal(body.instance, pathname, 'instance is the path')
  t.equal(body.requestId, res.headers.get('x-request-id'), 'requestId is the X-Request-Id header')
  t.notOk('stack' in body, 'no stack trace')
}

t.test('GET /health is answered by nginx itself', async (t) => {
  const id = newId()
  const res = await fetch(`${gw.url}/health`, { headers: { 'x-request-id': id } })
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^application\/json/)
  t.same(await res.json(), { status: 'ok' })
  t.same(await servicesThatLogged(id, false), [], 'no service saw it')
})

t.test('each prefix reaches its service with the path unchanged', async (t) => {
  const routes: Array<[string, ServiceName]> = [
    ['/api/v1/auth/__e2e_probe__', 'auth'],
    ['/api/v1/auth/.well-known/__e2e_probe__', 'auth'],
    ['/api/v1/cards', 'card'],
    ['/api/v1/cards/__e2e_probe__/x', 'card'],
    ['/api/v1/templates', 'card'],
    ['/api/v1/templates/__e2e_probe__/x', 'card'],
    ['/api/v1/collections', 'card'],
    ['/api/v1/collections/__e2e_probe__/x', 'card'],
    ['/api/v1/moderation/reports', 'card'],
    ['/api/v1/moderation/__e2e_probe__/x', 'card'],
    ['/api/v1/files', 'file'],
    ['/api/v1/files/__e2e_probe__/x', 'file'],
    ['/api/v1/billing/entitlements', 'billing'],
    ['/api/v1/billing/__e2e_probe__/x', 'billing'],
    ['/api/v1/billing/webhooks/stripe', 'billing']
  ]
  for (const [pathname, service] of routes) {
    const id = newId()
    const res = await fetch(`${gw.url}${pathname}?q=1`, { headers: { 'x-request-id': id } })
    await res.arrayBuffer()
    t.notOk([502, 503, 504].includes(res.status), `${pathname}: answered by a service (${res.status})`)
    t.equal(res.headers.get('x-request-id'), id, `${pathname}: the client's id comes back`)
    t.same(await servicesThatLogged(id, true), [service], `${pathname} reached ${service} only`)
    const line = services[service].logs.withRequestId(id).find((l) => l.msg === 'request completed')
    t.equal(line?.url, `${pathname}?q=1`, `${pathname}: no prefix rewriting`)
  }
})

t.test('unknown paths, /metrics and /health/* get the gateway\'s own 404 problem', async (t) => {
  const paths = ['/', '/api', '/api/v1/unknown', '/api/v1/cardsx', '/api/v1/filesystem', '/api/v2/cards',
    '/metrics', '/health/ready', '/health/live', '/openapi.json', '/index.html', '/logo.png',
    '/api/v1/cards/../../metrics']
  for (const p of paths) {
    const res = await fetch(`${gw.url}${p}`)
    const body = await res.json() as Record<string, unknown>
    const normalised = new URL(p, gw.url).pathname
    t.test(p, async (t) => {
      assertProblem(t, res, body, 404, normalised)
      t.equal(body.code, 'ROUTE_NOT_FOUND')
      t.equal(body.detail, 'No route for this path', 'the gateway answered, not a service')
      t.same(await servicesThatLogged(body.requestId as string, false), [], 'no service saw it')
    })
  }
})

t.test('a request without X-Request-Id gets one, the same in header, body and service log', async (t) => {
  const res = await fetch(`${gw.url}/api/v1/cards/__e2e_probe__/missing/route`)
  const body = await res.json() as Record<string, unknown>
  const id = res.headers.get('x-request-id') ?? ''
  t.match(id, /^[0-9a-f]{32}$/, 'nginx generated an id')
  assertProblem(t, res, body, res.status, '/api/v1/cards/__e2e_probe__/missing/route')
  t.ok(res.status >= 400 && res.status < 500, 'a client error from the service')
  t.same(await servicesThatLogged(id, true), ['card'])
  const lines = services.card.logs.withRequestId(id)
  t.ok(lines.some((l) => l.msg === 'request completed' && l.status === res.status), 'the request line carries the id')
  t.ok(lines.every((l) => l.service === 'card'))
})

t.test('a client\'s own X-Request-Id is kept end to end; an unsafe one is replaced', async (t) => {
  const id = newId()
  const res = await fetch(`${gw.url}/api/v1/files/__e2e_probe__/x`, { headers: { 'x-request-id': id } })
  const body = await res.json() as Record<string, unknown>
  t.equal(res.headers.get('x-request-id'), id)
  t.equal(body.requestId, id)
  t.same(await servicesThatLogged(id, true), ['file'])

  const unsafe = 'bad id with spaces'
  const res2 = await fetch(`${gw.url}/api/v1/files/__e2e_probe__/x`, { headers: { 'x-request-id': unsafe } })
  const body2 = await res2.json() as Record<string, unknown>
  const given = res2.headers.get('x-request-id') ?? ''
  t.match(given, /^[0-9a-f]{32}$/, 'replaced by a generated id')
  t.equal(body2.requestId, given)
  t.same(await servicesThatLogged(given, true), ['file'])
})

t.test('the gateway\'s JSON access log names the request id and the upstream', async (t) => {
  const id = newId()
  const res = await fetch(`${gw.url}/api/v1/templates/__e2e_probe__`, { headers: { 'x-request-id': id } })
  await res.arrayBuffer()
  const log = path.join(path.dirname(gw.confPath), 'access.log')
  let entry: Record<string, unknown> | undefined
  await eventually(async () => {
    const lines = (await readFile(log, 'utf8')).split('\n').filter((l) => l.includes(id))
    entry = lines.length > 0 ? JSON.parse(lines[0] as string) as Record<string, unknown> : undefined
    return entry !== undefined
  }, { tries: 100, intervalMs: 50 }) // lines are flushed at least once a second
  t.ok(entry, 'a line for the request')
  t.equal(entry?.requestId, id)
  t.equal(entry?.upstream, upstream(services.card))
  t.equal(entry?.status, res.status)
  t.equal(entry?.path, '/api/v1/templates/__e2e_probe__')
})

t.test('a body over the gateway limit gets a 413 problem from nginx', async (t) => {
  const res = await fetch(`${gw.url}/api/v1/cards`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ padding: 'x'.repeat(2 * 1024 * 1024) })
  })
  const body = await res.json() as Record<string, unknown>
  assertProblem(t, res, body, 413, '/api/v1/cards')
  t.equal(body.code, 'PAYLOAD_TOO_LARGE')
})

t.test('a service that is down gives a 502 problem from nginx', async (t) => {
  const dead = `127.0.0.1:${await freePort()}`
  const down = await testGateway(t, { auth: dead, card: dead, file: dead })
  for (const p of [
    '/api/v1/auth/login',
    '/api/v1/cards',
    '/api/v1/files/x',
    '/api/v1/files/card.json',
    '/api/v1/cards/index.html'
  ]) {
    const id = newId()
    const res = await fetch(`${down.url}${p}`, { headers: { 'x-request-id': id } })
    const body = await res.json() as Record<string, unknown>
    t.test(p, async (t) => {
      assertProblem(t, res, body, 502, p)
      t.equal(body.code, 'BAD_GATEWAY')
      t.equal(body.requestId, id)
      t.equal(res.headers.get('retry-after'), '5')
    })
  }
})

t.test('an upstream that does not answer in time gives a 504 problem; nginx\'s own 503 is a problem too', async (t) => {
  // A peer that accepts connections and never answers, behind a location with a short read timeout.
  const held = new Set<net.Socket>()
  const silent = net.createServer((socket) => { held.add(socket) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { for (const s of held) s.destroy(); silent.close(() => resolve()) }))
  const port = (silent.address() as net.AddressInfo).port
  const slow = await testGateway(t, {
    auth: upstream(services.auth),
    card: upstream(services.card),
    file: upstream(services.file)
  }, {
    extraLocations: [
      '    location /__e2e_slow/ { proxy_read_timeout 1s; proxy_next_upstream off; ' +
        `proxy_pass http://127.0.0.1:${port}; }`,
      '    location = /__e2e_unavailable { return 503; }'
    ].join('\n')
  })
  for (const [p, status, code] of [
    ['/__e2e_slow/cards', 504, 'GATEWAY_TIMEOUT'],
    ['/__e2e_unavailable', 503, 'SERVICE_UNAVAILABLE']
  ] as const) {
    const id = newId()
    const res = await fetch(`${slow.url}${p}`, { headers: { 'x-request-id': id } })
    const body = await res.json() as Record<string, unknown>
    t.test(p, async (t) => {
      assertProblem(t, res, body, status, p)
      t.equal(body.code, code)
      t.equal(body.requestId, id)
      t.equal(res.headers.get('retry-after'), '5')
    })
  }
})

t.test('a validation error through the gateway lists each bad field', async (t) => {
  const res = await fetch(`${gw.url}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ unexpected: true })
  })
  const body = await res.json() as Record<string, unknown> & {
    errors?: Array<{ field: string, in: string, message: string }>
  }
  assertProblem(t, res, body, 400, '/api/v1/auth/register')
  t.equal(body.code, 'VALIDATION_FAILED')
  const errors = body.errors ?? []
  t.ok(errors.length >= 2, `several fields are listed: ${JSON.stringify(errors)}`)
  for (const e of errors) {
    t.equal(e.in, 'body')
    t.type(e.field, 'string')
    t.type(e.message, 'string')
    t.match(body.detail, e.field, `the detail names ${e.field}`)
  }
  t.same(await servicesThatLogged(body.requestId as string, true), ['auth'])
})

t.test('a real route answers through the gateway: the auth JWKS', async (t) => {
  const res = await fetch(`${gw.url}/api/v1/auth/.well-known/jwks.json`)
  t.equal(res.status, 200)
  const body = await res.json() as { keys?: Array<{ kid?: string, kty?: string }> }
  t.ok((body.keys ?? []).length > 0, 'publishes at least one key')
  t.ok((body.keys ?? []).every((k) => typeof k.kid === 'string'), 'each with a kid')
})
