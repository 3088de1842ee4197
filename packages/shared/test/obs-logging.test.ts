import { spawn } from 'node:child_process'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import Fastify from 'fastify'
import { corePlugin, loggableUrl, redactUrl, serviceFastifyOptions } from '../src/index.js'

class Capture extends Writable {
  text = ''
  override _write (chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString()
    done()
  }

  lines (): Array<Record<string, unknown>> {
    return this.text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
  }
}

t.test('redactUrl hides signatures and tokens in query strings only', async (t) => {
  t.equal(
    redactUrl('/api/v1/files/1/content?exp=1700000000&sig=abcdef123'),
    '/api/v1/files/1/content?exp=1700000000&sig=[redacted]'
  )
  t.equal(
    redactUrl('/x?signature=s1&token=t1&X-Amz-Signature=a&X-Amz-Credential=c&page=2'),
    '/x?signature=[redacted]&token=[redacted]&X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]&page=2'
  )
  t.equal(
    redactUrl('/x?refresh_token=r&access%5Ftoken=a&password=p'),
    '/x?refresh_token=[redacted]&access%5Ftoken=[redacted]&password=[redacted]'
  )
  t.equal(
    redactUrl('/api/v1/auth/oauth/dev/callback?code=c0de&state=st4te&iss=https%3A%2F%2Fid&code_verifier=v'),
    '/api/v1/auth/oauth/dev/callback?code=[redacted]&state=[redacted]&iss=https%3A%2F%2Fid&code_verifier=[redacted]',
    'an OAuth callback\'s one-time code and state, and a PKCE verifier'
  )
  t.equal(
    redactUrl('/api/v1/cards?limit=20&cursor=abc'),
    '/api/v1/cards?limit=20&cursor=abc',
    'ordinary parameters untouched'
  )
  t.equal(redactUrl('/api/v1/tokens/list'), '/api/v1/tokens/list', 'no query, unchanged')
  t.equal(
    loggableUrl('/api/v1/auth/verify/tok-secret-123?x=1', { token: 'tok-secret-123' }),
    '/api/v1/auth/verify/[redacted]?x=1',
    'secret path parameter'
  )
  t.equal(loggableUrl('/api/v1/cards/3f1e2d4c', { id: '3f1e2d4c' }), '/api/v1/cards/3f1e2d4c', 'ids stay')
})

t.test('no secret of a request reaches the log, and the request line has its fields', async (t) => {
  const capture = new Capture()
  const app = Fastify(serviceFastifyOptions({ service: 'auth', logLevel: 'debug', logStream: capture }))
  await app.register(corePlugin, { service: 'auth', checks: {}, openapi: { title: 't', description: 'd' } })
  // A careless handler logging whole bodies and headers: redaction still holds.
  app.post('/login', async (request) => {
    request.log.info({ body: request.body, headers: request.headers }, 'login attempt')
    request.log.info(request.body as object, 'flat body')
    return { accessToken: 'resp-access-token-1', refreshToken: 'resp-refresh-token-1' }
  })
  app.get('/verify/:token', async (request) => {
    request.log.info({ req: request }, 'verifying')
    return { ok: true }
  })
  app.post('/fails', async () => { throw new Error('boom') })
  t.teardown(() => app.close())

  const secrets = {
    password: 'Pa55word-never-logged',
    currentPassword: 'Current-pass-never-logged',
    newPassword: 'New-pass-never-logged',
    refreshToken: 'refresh-token-never-logged',
    token: 'reset-token-never-logged',
    bearer: 'eyJhbGciOiJFZERTQSJ9.bearer-never-logged.sig',
    cookie: 'session-cookie-never-logged',
    sig: 'signature-never-logged',
    pathToken: 'path-token-never-logged'
  }
  const res = await app.inject({
    method: 'POST',
    url: `/login?token=${secrets.token}&sig=${secrets.sig}`,
    headers: {
      authorization: `Bearer ${secrets.bearer}`,
      cookie: `sid=${secrets.cookie}`,
      'x-request-id': 'req-login-1'
    },
    payload: {
      email: 'a@example.com',
      password: secrets.password,
      currentPassword: secrets.currentPassword,
      newPassword: secrets.newPassword,
      refreshToken: secrets.refreshToken,
      nested: { token: secrets.token }
    }
  })
  t.equal(res.statusCode, 200)
  await app.inject({
    method: 'GET',
    url: `/verify/${secrets.pathToken}?signature=${secrets.sig}`,
    headers: { authorization: `Bearer ${secrets.bearer}` }
  })
  await app.inject({
    method: 'POST',
    url: '/fails',
    headers: { cookie: `sid=${secrets.cookie}` },
    payload: { password: secrets.password }
  })
  await app.inject({
    method: 'POST',
    url: `/not-yet-a-route?refreshToken=${secrets.refreshToken}`,
    headers: { authorization: `Bearer ${secrets.bearer}` },
    payload: { password: secrets.password }
  })

  for (const [name, value] of Object.entries(secrets)) {
    t.notOk(capture.text.includes(value), `${name} is in no log line`)
  }
  t.notOk(capture.text.includes('resp-refresh-token-1'), 'response bodies are not logged')

  const line = capture.lines().find((l) => l.requestId === 'req-login-1' && l.msg === 'request completed')
  t.match(line, { method: 'POST', route: '/login', status: 200, service: 'auth', level: 'info' })
  t.type(line?.durationMs, 'number')
  t.match(String(line?.url), /^\/login\?token=\[redacted\]&sig=\[redacted\]$/)
  const verify = capture.lines().find((l) => l.route === '/verify/:token' && l.msg === 'request completed')
  t.equal(verify?.url, '/verify/[redacted]?signature=[redacted]')
  t.ok(
    capture.lines().some((l) => l.msg === 'request completed' && l.status === 500 && l.level === 'error'),
    '5xx at error'
  )
})

t.test('without a logStream, logging is asynchronous and flushed when the app closes', async (t) => {
  const script = fileURLToPath(new URL('./obs-async-log-child.ts', import.meta.url))
  const child = spawn(process.execPath, ['--conditions=holo-source', '--import=tsx', script], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  t.equal(code, 0)
  const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
  const marker = lines.find((l) => l.msg === 'stream kind')
  t.match(marker, { sonic: true, sync: false }, 'stdout through an asynchronous pino destination')
  t.equal(lines.filter((l) => l.msg === 'request completed').length, 200, 'every line written, none lost at close')
})
