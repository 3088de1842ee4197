// Graceful shutdown of the real server process: SIGTERM while a request is in
// flight → that request still gets its answer, new connections are refused,
// the process closes its clients and exits 0.
import { request } from 'node:http'
import { connect } from 'node:net'
import t from 'tap'
import { freePort, testDatabase, testIssuer, testRedisUrl } from '@holo/infra/testing'
import { eventually } from './helpers.js'
import { spawnService } from './process.js'

const canConnect = (port: number): Promise<boolean> => new Promise((resolve) => {
  const s = connect({ host: '127.0.0.1', port })
  s.once('connect', () => { s.destroy(); resolve(true) })
  s.once('error', () => resolve(false))
})

t.test('card finishes an in-flight request after SIGTERM, refuses new ones, exits 0', async (t) => {
  const db = await testDatabase(t)
  const issuer = await testIssuer(t)
  const port = await freePort()
  const p = spawnService('card', {
    PORT: String(port),
    DATABASE_URL: db.urlFor('card'),
    REDIS_URL: testRedisUrl(),
    AUTH_JWKS_URL: issuer.jwksUrl,
    LOG_LEVEL: 'info'
  })
  t.teardown(() => { if (p.child.exitCode === null) p.child.kill('SIGKILL') })
  const up = await eventually(
    async () => (await fetch(`http://127.0.0.1:${port}/health/live`)).status === 200,
    { tries: 300 }
  )
  t.ok(up, 'the service came up')

  // A POST whose body arrives in two parts: in flight until the second part is
  // sent. `Expect: 100-continue` tells us when the server has parsed its headers.
  const body = JSON.stringify({ probe: 'in-flight', padding: 'x'.repeat(64) })
  let answered = false
  const req = request({
    host: '127.0.0.1', port, method: 'POST', path: '/__shutdown_probe__',
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-request-id': 'shutdown-probe-1',
      expect: '100-continue'
    }
  })
  const response = new Promise<{ status: number, type: string, text: string }>((resolve, reject) => {
    req.once('response', (res) => {
      answered = true
      let text = ''
      res.on('data', (d: Buffer) => { text += d.toString() })
      res.once('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }))
    })
    req.once('error', reject)
  })
  req.flushHeaders()
  await new Promise((resolve) => req.once('continue', resolve))
  req.write(body.slice(0, 10))

  p.child.kill('SIGTERM')
  t.ok(
    await eventually(async () => !(await canConnect(port)), { tries: 100 }),
    'new connections are refused after SIGTERM'
  )
  t.equal(p.child.exitCode, null, 'still running while a request is in flight')
  t.notOk(answered, 'the in-flight request has not been answered yet')

  req.end(body.slice(10))
  const res = await response
  t.equal(res.status, 404, 'the in-flight request gets its real answer, not a reset')
  t.match(res.type, /^application\/problem\+json/)
  t.match(JSON.parse(res.text), { instance: '/__shutdown_probe__', requestId: 'shutdown-probe-1' })

  const { code, signal } = await p.exited
  t.equal(signal, null)
  t.equal(code, 0, 'exits 0')
  const lines = p.stdout().split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  t.ok(lines.some((l) => l.signal === 'SIGTERM' && l.msg === 'closing'), 'logs that it is closing on SIGTERM')
  t.ok(
    lines.some((l) => l.requestId === 'shutdown-probe-1' && l.status === 404),
    'the in-flight request was logged with its id'
  )
  t.equal(p.stderr().trim(), '', 'nothing on stderr')
})
