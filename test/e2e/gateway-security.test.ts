// What a client must not be able to do through the gateway: choose the address
// the services see, steer redirects with its Host header, get nginx's HTML error
// pages or an echo of its request. Also: /docs works from a checkout that other
// users cannot enter. Real nginx (gateway/nginx.conf rendered for local ports)
// in front of the three real services, each on a fresh database.
import { randomUUID } from 'node:crypto'
import { chmod, copyFile, mkdir, readdir, readFile } from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import t, { type Test } from 'tap'
import { repoRoot } from '@holo/infra'
import { tempDir, testDatabase, testGateway, testIssuer, testMail, testRedisUrl, testS3 } from '@holo/infra/testing'
import { startService, type RunningService, type ServiceName } from './helpers.js'

const REGISTER_LIMIT = 3
const db = await testDatabase(t)
const s3 = await testS3(t)
const mail = await testMail(t)
const issuer = await testIssuer(t)
const common = { REDIS_URL: testRedisUrl(), AUTH_JWKS_URL: issuer.jwksUrl }
const services: Record<ServiceName, RunningService> = {
  auth: await startService(t, 'auth', {
    ...common,
    DATABASE_URL: db.urlFor('auth'),
    SMTP_URL: `smtp://127.0.0.1:${mail.smtpPort}`,
    RATE_LIMIT_NAMESPACE: `e2e-sec:${randomUUID()}:`,
    RATE_LIMIT_REGISTER_PER_IP: String(REGISTER_LIMIT)
  }),
  card: await startService(t, 'card', { ...common, DATABASE_URL: db.urlFor('card') }),
  file: await startService(t, 'file', {
    ...common, DATABASE_URL: db.urlFor('file'), S3_ENDPOINT: s3.endpoint, S3_BUCKET: `e2e-${randomUUID().slice(0, 8)}`
  }),
  notification: await startService(t, 'notification', { ...common, DATABASE_URL: db.urlFor('notification') }),
  analytics: await startService(t, 'analytics', { ...common, DATABASE_URL: db.urlFor('analytics') }),
  audit: await startService(t, 'audit', { ...common, DATABASE_URL: db.urlFor('audit') }),
  billing: await startService(t, 'billing', { ...common, DATABASE_URL: db.urlFor('billing') })
}
const upstreams = Object.fromEntries(
  Object.entries(services).map(([name, s]) => [name, `127.0.0.1:${s.port}`])
) as Record<ServiceName, string>

// A peer that answers with the forwarding headers it was given, behind the
// gateway's own proxy settings (an extra location inherits them).
const echo = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json')
  // `?proto` asks for the scheme the upstream was told instead.
  if (req.url?.endsWith('?proto') === true) res.end(JSON.stringify({ proto: req.headers['x-forwarded-proto'] ?? null }))
  else res.end(JSON.stringify({ xff: req.headers['x-forwarded-for'] ?? null, realIp: req.headers['x-real-ip'] ?? null }))
})
await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise<void>((resolve) => { echo.closeAllConnections(); echo.close(() => resolve()) }))
const echoPort = (echo.address() as net.AddressInfo).port
const echoLocation = `    location = /__e2e_echo { proxy_pass http://127.0.0.1:${echoPort}; }`
const gw = await testGateway(t, upstreams, { extraLocations: echoLocation })
const gwPort = Number(new URL(gw.url).port)

const SECRET = `s3cr3t-${randomUUID()}`

interface RawResponse { status: number, headers: Record<string, string>, body: string, raw: string }

/** An HTTP/1.1 request from its lines (request line, then header lines), without a body. */
const request = (...lines: string[]): string => `${lines.join('\r\n')}\r\n\r\n`

/** Sends bytes as they are (fetch refuses TRACE, CONNECT, bad lines) and reads until nginx closes. */
async function raw (request: string, port = gwPort): Promise<RawResponse> {
  const data = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = net.createConnection({ host: '127.0.0.1', port })
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')))
    socket.on('data', (d: Buffer) => chunks.push(d))
    // nginx may reset a connection it refused while bytes were still arriving: keep what came.
    socket.on('error', (err) => {
      if (chunks.length > 0) resolve(Buffer.concat(chunks).toString('latin1'))
      else reject(err)
    })
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
    socket.write(request, 'latin1')
  })
  const end = data.indexOf('\r\n\r\n')
  if (end < 0) throw new Error(`not an HTTP response: ${JSON.stringify(data.slice(0, 200))}`)
  const [statusLine = '', ...lines] = data.slice(0, end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const l of lines) {
    const i = l.indexOf(':')
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim()
  }
  const rest = data.slice(end + 4)
  const length = headers['content-length']
  const body = length === undefined ? rest : rest.slice(0, Number(length))
  return { status: Number(statusLine.split(' ')[1]), headers, body, raw: data }
}

/** A problem+json answer of the gateway itself, in the shape of its other problem pages. */
function assertGatewayProblem (t: Test, res: RawResponse, status: number, code: string): Record<string, unknown> {
  t.equal(res.status, status, `status ${status}`)
  t.match(res.headers['content-type'], /^application\/problem\+json/, 'problem+json content type')
  let body: Record<string, unknown> = {}
  try {
    body = JSON.parse(res.body) as Record<string, unknown>
  } catch {
    t.fail(`a JSON body, got ${JSON.stringify(res.body.slice(0, 120))}`)
  }
  const members = ['code', 'detail', 'instance', 'requestId', 'status', 'title', 'type']
  t.same(Object.keys(body).sort(), members, 'the problem members')
  t.equal(body.status, status, 'body.status')
  t.equal(body.code, code, 'code')
  t.equal(body.type, `https://holo.cards/problems/${code.toLowerCase().replace(/_/g, '-')}`, 'type from the code')
  t.match(body.instance, /^\/[-A-Za-z0-9/._~]*$/, 'instance is a plain path')
  t.equal(body.requestId, res.headers['x-request-id'], 'requestId is the X-Request-Id header')
  t.notOk(res.raw.includes(SECRET), 'nothing of the request is echoed')
  t.notMatch(res.body, /<html/i, 'not nginx\'s HTML page')
  return body
}

/** The services whose log has a line of this request. */
const servicesThatLogged = (requestId: string): ServiceName[] =>
  (Object.keys(services) as ServiceName[]).filter((n) => services[n].logs.withRequestId(requestId).length > 0)

t.test('a client cannot choose the address the services see', async (t) => {
  t.test('X-Forwarded-For and X-Real-IP are the peer, whatever the client sends', async (t) => {
    const forged = ['203.0.113.7', '203.0.113.7, 198.51.100.1', '10.0.0.1,127.0.0.2', 'unknown', '']
    for (const xff of forged) {
      const headers = { 'x-forwarded-for': xff, 'x-real-ip': '203.0.113.8' }
      const res = await fetch(`${gw.url}/__e2e_echo`, { headers })
      t.same(await res.json(), { xff: '127.0.0.1', realIp: '127.0.0.1' }, `forged ${JSON.stringify(xff)}`)
    }
    const res = await fetch(`${gw.url}/__e2e_echo`)
    t.same(await res.json(), { xff: '127.0.0.1', realIp: '127.0.0.1' }, 'none sent')
  })

  t.test('the register limit per IP holds when X-Forwarded-For changes on every request', async (t) => {
    const statuses: number[] = []
    for (let i = 0; i < REGISTER_LIMIT + 2; i++) {
      const tag = randomUUID().replace(/-/g, '').slice(0, 10)
      const res = await fetch(`${gw.url}/api/v1/auth/register`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-forwarded-for': `203.0.113.${i + 1}`,
          'x-real-ip': `198.51.100.${i + 1}`
        },
        body: JSON.stringify({ email: `xff-${tag}@example.com`, password: `Gateway ${tag}`, username: `xff_${tag}` })
      })
      await res.arrayBuffer()
      statuses.push(res.status)
    }
    t.same(statuses, [...Array(REGISTER_LIMIT).fill(201), 429, 429], 'one address, one limit')
  })

  t.test('behind a trusted proxy, its X-Forwarded-For names the client (the rightmost untrusted entry)', async (t) => {
    const behind = await testGateway(t, upstreams, { extraLocations: echoLocation, trustedProxies: ['127.0.0.1'] })
    const seen = async (xff?: string): Promise<unknown> => {
      const headers: Record<string, string> = xff === undefined ? {} : { 'x-forwarded-for': xff }
      return await (await fetch(`${behind.url}/__e2e_echo`, { headers })).json()
    }
    t.same(await seen('198.51.100.7'), { xff: '198.51.100.7', realIp: '198.51.100.7' }, 'the client the proxy saw')
    t.same(await seen('203.0.113.9, 198.51.100.7'), { xff: '198.51.100.7', realIp: '198.51.100.7' },
      'an address the client prepended is not believed')
    t.same(await seen(), { xff: '127.0.0.1', realIp: '127.0.0.1' }, 'no header: the proxy itself')
    const direct = await fetch(`${gw.url}/__e2e_echo`, { headers: { 'x-forwarded-for': '198.51.100.7' } })
    t.same(await direct.json(), { xff: '127.0.0.1', realIp: '127.0.0.1' }, 'without trusted proxies nobody is believed')
  })

  t.test('X-Forwarded-Proto is believed only from a trusted proxy', async (t) => {
    const proto = async (url: string, headers: Record<string, string> = {}): Promise<unknown> =>
      await (await fetch(`${url}/__e2e_echo?proto`, { headers })).json()
    t.same(await proto(gw.url, { 'x-forwarded-proto': 'https' }), { proto: 'http' }, 'a client cannot claim https')
    t.same(await proto(gw.url), { proto: 'http' })
    const behind = await testGateway(t, upstreams, { extraLocations: echoLocation, trustedProxies: ['127.0.0.1'] })
    t.same(await proto(behind.url, { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.7' }),
      { proto: 'https' }, 'the trusted proxy\'s scheme')
  })

  t.test('a trusted proxy that is not an address or a CIDR is refused', async (t) => {
    for (const bad of ['127.0.0.1; user root', 'all', '10.0.0.0/8\n']) {
      await t.rejects(testGateway(t, upstreams, { trustedProxies: [bad] }), /trustedProxies/, JSON.stringify(bad))
    }
  })
})

t.test('redirects never carry the client\'s Host', async (t) => {
  for (const host of ['evil.example', 'evil.example:4443', `127.0.0.1:${gwPort}`]) {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: gwPort, path: '/docs', headers: { host } }, resolve).on('error', reject)
    })
    res.resume()
    t.equal(res.statusCode, 301, `Host ${host}: redirected`)
    t.equal(res.headers.location, '/docs/', `Host ${host}: a relative Location`)
  }
})

t.test('every error nginx produces itself is problem+json, never HTML', async (t) => {
  const big = `${SECRET}${'a'.repeat(16 * 1024)}`
  const close = 'Connection: close'
  const cases: Array<[string, string, number, string]> = [
    ['an oversized header', request('GET /api/v1/cards HTTP/1.1', 'Host: x', `X-Big: ${big}`, close),
      431, 'REQUEST_HEADER_TOO_LARGE'],
    ['an oversized cookie', request('GET /api/v1/cards HTTP/1.1', 'Host: x', `Cookie: session=${big}`, close),
      431, 'REQUEST_HEADER_TOO_LARGE'],
    ['headers over the total (each fits)',
      request('GET /api/v1/cards HTTP/1.1', 'Host: x', ...[1, 2, 3, 4, 5].map((i) => `X-H${i}: ${big.slice(0, 7000)}`)),
      431, 'REQUEST_HEADER_TOO_LARGE'],
    ['an oversized request line', request(`GET /api/v1/cards?q=${big} HTTP/1.1`, 'Host: x', close),
      414, 'URI_TOO_LONG'],
    ['a malformed request line', request(`GET /api/v1/cards?${SECRET}\x01 HTTP/1.1`, 'Host: x', close),
      400, 'BAD_REQUEST'],
    ['a header line without a colon', request('GET /api/v1/cards HTTP/1.1', 'Host: x', `${SECRET} is no header`, close),
      400, 'BAD_REQUEST'],
    ['two Host headers', request('GET /api/v1/cards HTTP/1.1', 'Host: x', `Host: ${SECRET}`, close),
      400, 'BAD_REQUEST'],
    ['HTTP/1.1 without Host', request('GET /api/v1/cards HTTP/1.1', close),
      400, 'BAD_REQUEST'],
    ['an unsupported HTTP version', request('GET /api/v1/cards HTTP/2.0', 'Host: x', close),
      505, 'HTTP_VERSION_NOT_SUPPORTED'],
    ['an unknown transfer coding',
      request('POST /api/v1/cards HTTP/1.1', 'Host: x', 'Transfer-Encoding: gzip', `X-S: ${SECRET}`, close),
      501, 'NOT_IMPLEMENTED'],
    ['a range past the end of a /docs file',
      request('GET /docs/docs.css HTTP/1.1', 'Host: x', 'Range: bytes=999999-', close),
      416, 'RANGE_NOT_SATISFIABLE'],
    ['a POST to a /docs file', request('POST /docs/docs.css HTTP/1.1', 'Host: x', 'Content-Length: 0', close),
      405, 'METHOD_NOT_ALLOWED']
  ]
  for (const [name, request, status, code] of cases) {
    t.test(name, async (t) => { assertGatewayProblem(t, await raw(request), status, code) })
  }
})

t.test('TRACE, TRACK and CONNECT are refused by the gateway, echoing nothing', async (t) => {
  const requests = [
    'TRACE / HTTP/1.1',
    'TRACE /api/v1/cards HTTP/1.1',
    'TRACK /api/v1/cards HTTP/1.1',
    'TRACK /api/v1/auth/me HTTP/1.1',
    'CONNECT /api/v1/files HTTP/1.1',
    // nginx up to 1.27 refuses the authority form in its request-line parser (a 400,
    // before any configuration runs); later ones answer 405 like the rest.
    'CONNECT 127.0.0.1:22 HTTP/1.1'
  ]
  for (const line of requests) {
    t.test(line, async (t) => {
      const id = `e2e-${randomUUID()}`
      const res = await raw(request(line, 'Host: x', `X-Request-Id: ${id}`, `Cookie: sid=${SECRET}`,
        `Authorization: Bearer ${SECRET}`, 'Connection: close'))
      if (line.startsWith('CONNECT 127') && res.status === 400) {
        assertGatewayProblem(t, res, 400, 'BAD_REQUEST')
        return
      }
      const body = assertGatewayProblem(t, res, 405, 'METHOD_NOT_ALLOWED')
      t.equal(body.requestId, id, 'the client\'s id kept')
      t.match(res.headers.allow, /^[A-Z]+(, [A-Z]+)*$/, 'an Allow header')
      t.notMatch(res.headers.allow, /TRACE|TRACK|CONNECT/, 'that does not offer them')
      await new Promise((resolve) => setTimeout(resolve, 100)) // a service would have logged by now
      t.same(servicesThatLogged(body.requestId as string), [], 'no service saw it')
    })
  }
})

t.test('/docs works when the checkout is in a directory other users cannot enter', async (t) => {
  // A home directory of mode 700 holding the checkout (its files 600, as with umask 077):
  // nginx workers (nobody when the master is root) cannot read anything in it.
  const home = await tempDir(t, 'holo-home-')
  await chmod(home, 0o700)
  const checkout = path.join(home, 'holo')
  const docsSource = path.join(checkout, 'gateway/docs')
  const swaggerUiSource = path.join(checkout, 'gateway/node_modules/swagger-ui-dist')
  const copyPrivate = async (from: string, to: string, names?: string[]): Promise<void> => {
    await mkdir(to, { recursive: true, mode: 0o700 })
    for (const name of names ?? await readdir(from)) {
      await copyFile(path.join(from, name), path.join(to, name))
      await chmod(path.join(to, name), 0o600)
    }
  }
  await copyPrivate(path.join(repoRoot, 'gateway/docs'), docsSource)
  await copyPrivate(path.join(repoRoot, 'gateway/node_modules/swagger-ui-dist'), swaggerUiSource,
    ['swagger-ui.css', 'swagger-ui-bundle.js'])
  const runDir = path.join(checkout, '.stack/nginx')
  await mkdir(runDir, { recursive: true, mode: 0o700 })
  const local = await testGateway(t, upstreams, { runDir, docsSource, swaggerUiSource })

  const assets = [
    ['/docs/', /^text\/html/],
    ['/docs/docs.css', /^text\/css/],
    ['/docs/vendor/swagger-ui-bundle.js', /^application\/javascript/]
  ] as const
  for (const [p, type] of assets) {
    const res = await fetch(`${local.url}${p}`)
    const text = await res.text()
    t.equal(res.status, 200, `${p}: 200`)
    t.match(res.headers.get('content-type'), type, `${p}: content type`)
    if (p === '/docs/') t.match(text, 'Holo Cards API reference', 'the page itself')
  }
  for (const name of ['auth', 'card', 'file'] as const) {
    const res = await fetch(`${local.url}/docs/${name}.json`)
    const served = await res.text()
    const own = await (await fetch(`${services[name].url}/openapi.json`)).text()
    t.equal(res.status, 200, `/docs/${name}.json: 200`)
    t.equal(served, own, `/docs/${name}.json: the service's whole document (${own.length} bytes)`)
  }
  // A body over client_body_buffer_size waits in nginx's temp files, which workers must be able to write.
  const res = await fetch(`${local.url}/api/v1/cards`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ padding: 'x'.repeat(512 * 1024) })
  })
  const text = await res.text()
  t.equal(res.status, 401, `a large body reaches the card service: ${text.slice(0, 80)}`)
  t.match(text, '"code":"UNAUTHORIZED"', 'the card service\'s answer')
  const conf = await readFile(local.confPath, 'utf8')
  t.notOk(conf.includes(docsSource) || conf.includes(swaggerUiSource), 'nginx is not pointed into the checkout')
})
