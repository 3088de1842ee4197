import t from 'tap'
import { buildTestApp, newAccount, register } from './helper.js'

t.test('login is limited per account and per IP; 429 is problem+json with Retry-After', async (t) => {
  const { app } = await buildTestApp(t, { RATE_LIMIT_LOGIN_PER_ACCOUNT: '3', RATE_LIMIT_LOGIN_PER_IP: '5', RATE_LIMIT_WINDOW_SECONDS: '120' })
  const victim = await register(app)
  const other = await register(app)
  const attempt = async (email: string, password = 'wrong password here', ip = '203.0.113.7') =>
    await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, headers: { 'x-forwarded-for': ip } })

  for (let i = 0; i < 3; i++) t.equal((await attempt(victim.body.email)).statusCode, 401)
  const limited = await attempt(victim.body.email.toUpperCase(), victim.body.password, '198.51.100.1')
  t.equal(limited.statusCode, 429, 'per account, whatever the IP and the email case')
  t.equal(limited.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.equal(limited.json().code, 'RATE_LIMITED')
  const retryAfter = Number(limited.headers['retry-after'])
  t.ok(retryAfter > 0 && retryAfter <= 120, `Retry-After ${retryAfter}`)

  t.equal((await attempt(other.body.email, other.body.password)).statusCode, 200, 'another account from the same IP still logs in')
  t.equal((await attempt(other.body.email)).statusCode, 401)
  const perIp = await attempt(other.body.email, other.body.password)
  t.equal(perIp.statusCode, 429, 'the sixth attempt from one IP is refused')
  t.equal((await attempt(other.body.email, other.body.password, '192.0.2.55')).statusCode, 200, 'another IP is not affected')
})

t.test('register is limited per IP; password reset per IP and per account', async (t) => {
  const { app } = await buildTestApp(t, { RATE_LIMIT_REGISTER_PER_IP: '2', RATE_LIMIT_RESET_PER_ACCOUNT: '2', RATE_LIMIT_RESET_PER_IP: '4' })
  const headers = { 'x-forwarded-for': '203.0.113.9' }
  t.equal((await register(app, newAccount(), headers)).res.statusCode, 201)
  t.equal((await register(app, newAccount(), headers)).res.statusCode, 201)
  const third = await register(app, newAccount(), headers)
  t.equal(third.res.statusCode, 429)
  t.ok(Number(third.res.headers['retry-after']) > 0)

  const reset = async (email: string) => await app.inject({ method: 'POST', url: '/api/v1/auth/password-reset', payload: { email }, headers })
  t.equal((await reset('a@example.test')).statusCode, 202)
  t.equal((await reset('A@example.test')).statusCode, 202)
  t.equal((await reset('a@example.test')).statusCode, 429, 'per account')
  t.equal((await reset('b@example.test')).statusCode, 202)
  t.equal((await reset('c@example.test')).statusCode, 429, 'per IP')
})

t.test('limits are kept in Redis, shared by every instance', async (t) => {
  const first = await buildTestApp(t, { RATE_LIMIT_LOGIN_PER_ACCOUNT: '2' })
  const namespace = first.config.RATE_LIMIT_NAMESPACE
  const second = await buildTestApp(t, { RATE_LIMIT_LOGIN_PER_ACCOUNT: '2', RATE_LIMIT_NAMESPACE: namespace }, { databaseUrl: first.config.DATABASE_URL })
  const payload = { email: 'shared@example.test', password: 'whatever it is' }
  t.equal((await first.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload })).statusCode, 401)
  t.equal((await second.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload })).statusCode, 401)
  t.equal((await first.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload })).statusCode, 429)
  const keys = await first.deps.redis.keys(`${namespace}*`)
  t.ok(keys.length > 0, 'counters live in Redis under the namespace')
  t.teardown(async () => { if (keys.length > 0) await first.deps.redis.del(...keys) })
})
