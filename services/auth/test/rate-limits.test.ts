import { createHash } from 'node:crypto'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../src/config.js'
import { buildTestApp, newAccount, register } from './helper.js'

/** A login from `ip` (the client address the service sees) with a user agent. */
const login = async (app: FastifyInstance, email: string, password: string, ip: string, userAgent = 'tap-browser') =>
  await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email, password },
    remoteAddress: ip,
    headers: { 'user-agent': userAgent }
  })
const statusOf = async (app: FastifyInstance, email: string, password: string, ip: string, userAgent?: string) =>
  (await login(app, email, password, ip, userAgent)).statusCode

/** The value of one auth_login_throttle_total series (0 before its first increment). */
const throttled = async (app: FastifyInstance, result: 'delayed' | 'refused'): Promise<number> => {
  const lines = (await app.inject({ url: '/metrics' })).body.split('\n')
  const line = lines.find((l) => l.startsWith('auth_login_throttle_total{') && l.includes(`result="${result}"`))
  return line === undefined ? 0 : Number(line.split(' ').at(-1))
}

t.test('failed logins are limited per account and address; 429 is problem+json with Retry-After', async (t) => {
  const { app } = await buildTestApp(t, {
    RATE_LIMIT_LOGIN_PER_ACCOUNT_IP: '3',
    RATE_LIMIT_LOGIN_PER_IP: '8',
    RATE_LIMIT_WINDOW_SECONDS: '120'
  })
  const victim = await register(app)
  const other = await register(app)
  const attacker = '203.0.113.7'

  for (let i = 0; i < 3; i++) t.equal(await statusOf(app, victim.body.email, 'wrong password here', attacker), 401)
  const limited = await login(app, victim.body.email.toUpperCase(), victim.body.password, attacker)
  t.equal(limited.statusCode, 429, 'that account from that address, in any email case, even with the right password')
  t.equal(limited.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.equal(limited.json().code, 'RATE_LIMITED')
  const retryAfter = Number(limited.headers['retry-after'])
  t.ok(retryAfter > 0 && retryAfter <= 120, `Retry-After ${retryAfter}`)
  t.equal(await throttled(app, 'refused'), 1)

  t.equal(await statusOf(app, victim.body.email, victim.body.password, '198.51.100.1'), 200,
    'the real user from another address still logs in')
  t.equal(await statusOf(app, other.body.email, other.body.password, attacker), 200,
    'another account from the attacker\'s address still logs in')

  // A success clears the pair: it counts failures since the last success (Auth0's "consecutive" failures).
  const home = '192.0.2.10'
  for (let i = 0; i < 2; i++) t.equal(await statusOf(app, other.body.email, 'typo in the password', home), 401)
  t.equal(await statusOf(app, other.body.email, other.body.password, home), 200)
  for (let i = 0; i < 3; i++) t.equal(await statusOf(app, other.body.email, 'typo in the password', home), 401)
  t.equal(await statusOf(app, other.body.email, other.body.password, home), 429)

  // Per IP, whatever the account: five attempts so far from the attacker's address, three more allowed.
  for (let i = 0; i < 3; i++) t.equal(await statusOf(app, newAccount().email, 'whatever it is', attacker), 401)
  const perIp = await login(app, newAccount().email, 'whatever it is', attacker)
  t.equal(perIp.statusCode, 429, 'the ninth attempt from one IP is refused')
  t.ok(Number(perIp.headers['retry-after']) > 0)
  t.equal(await statusOf(app, other.body.email, other.body.password, '192.0.2.55'), 200, 'another IP is not affected')
})

t.test('an attacker everywhere slows strangers down but never locks the owner out', async (t) => {
  const { app, deps } = await buildTestApp(t, {
    RATE_LIMIT_LOGIN_PER_ACCOUNT_IP: '3',
    RATE_LIMIT_LOGIN_PER_ACCOUNT: '6',
    RATE_LIMIT_LOGIN_DELAY_MS: '300',
    RATE_LIMIT_LOGIN_MAX_DELAY_MS: '600'
  })
  const { body, tokens } = await register(app)
  const phone = { ip: '192.0.2.20', userAgent: 'owner-phone/1.0' }
  t.equal(await statusOf(app, body.email, body.password, phone.ip, phone.userAgent), 200, 'the owner signs in')

  // Three failures from each of two addresses: the account-wide count reaches the limit.
  for (const ip of ['203.0.113.1', '203.0.113.2']) {
    for (let i = 0; i < 3; i++) t.equal(await statusOf(app, body.email, `guess number ${i} here`, ip, 'bot'), 401)
    t.equal(await statusOf(app, body.email, 'guess number 4 here', ip, 'bot'), 429)
  }
  t.equal(await throttled(app, 'delayed'), 0, 'nothing slowed down below the account-wide limit')

  const slowed = await statusOf(app, body.email, 'and another guess', '203.0.113.3', 'bot')
  t.equal(slowed, 401, 'a hot account still answers a stranger: slowed down, not blocked')
  t.equal(await throttled(app, 'delayed'), 1)

  t.equal(await statusOf(app, body.email, body.password, phone.ip, phone.userAgent), 200, 'the known device gets in')
  t.equal(await throttled(app, 'delayed'), 1, 'without waiting')

  const laptop = { ip: '198.51.100.30', userAgent: 'owner-laptop/2.0' }
  t.equal(await statusOf(app, body.email, body.password, laptop.ip, laptop.userAgent), 200,
    'a new device with the right password gets in too')
  t.equal(await throttled(app, 'delayed'), 2, 'after a bounded wait')
  const audit = await deps.prisma.auditEvent.findFirst({
    where: { event: 'login.ok', targetId: tokens.user.id },
    orderBy: { createdAt: 'desc' }
  })
  t.match(audit?.details, { delayedMs: 600 }, 'the wait is in the audit trail (doubled from 300, capped at 600)')

  t.equal(await statusOf(app, body.email, body.password, laptop.ip, laptop.userAgent), 200)
  t.equal(await throttled(app, 'delayed'), 2, 'that device is known from now on')
})

t.test('register is limited per IP; password reset per IP and per account', async (t) => {
  const { app } = await buildTestApp(t, {
    RATE_LIMIT_REGISTER_PER_IP: '2',
    RATE_LIMIT_RESET_PER_ACCOUNT: '2',
    RATE_LIMIT_RESET_PER_IP: '4'
  })
  const headers = { 'x-forwarded-for': '203.0.113.9' }
  t.equal((await register(app, newAccount(), headers)).res.statusCode, 201)
  t.equal((await register(app, newAccount(), headers)).res.statusCode, 201)
  const third = await register(app, newAccount(), headers)
  t.equal(third.res.statusCode, 429)
  t.ok(Number(third.res.headers['retry-after']) > 0)

  const reset = async (email: string) =>
    await app.inject({ method: 'POST', url: '/api/v1/auth/password-reset', payload: { email }, headers })
  t.equal((await reset('a@example.test')).statusCode, 202)
  t.equal((await reset('A@example.test')).statusCode, 202)
  t.equal((await reset('a@example.test')).statusCode, 429, 'per account')
  t.equal((await reset('b@example.test')).statusCode, 202)
  t.equal((await reset('c@example.test')).statusCode, 429, 'per IP')
})

t.test('counters live under RATE_LIMIT_NAMESPACE with readable names', async (t) => {
  const { app, deps, config } = await buildTestApp(t, { RATE_LIMIT_WINDOW_SECONDS: '60' })
  const ns = config.RATE_LIMIT_NAMESPACE
  const { body } = await register(app, newAccount(), { 'x-forwarded-for': '203.0.113.40' })
  await login(app, body.email, 'not the password', '203.0.113.41')
  await login(app, body.email, body.password, '203.0.113.42', 'known-agent')
  await app.inject({
    method: 'POST',
    url: '/api/v1/auth/password-reset',
    payload: { email: body.email },
    remoteAddress: '203.0.113.43'
  })
  await app.accounts.drain()

  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, found] = await deps.redis.scan(cursor, 'MATCH', `${ns}*`, 'COUNT', 1000)
    keys.push(...found)
    cursor = next
  } while (cursor !== '0')
  const account = createHash('sha256').update(body.email).digest('hex').slice(0, 32)
  // The test helper keeps the app's role registry under the same namespace (dropped with it); it is no counter,
  // and the app writes it at start in the background.
  const registry = new Set([config.ROLES_REGISTRY_KEY, `${config.ROLES_REGISTRY_KEY}:version`])
  t.same(keys.filter((k) => !registry.has(k)).map((k) => k.slice(ns.length)).sort(), [
    `login:account-ip:${account}:203.0.113.41`,
    `login:account:${account}`,
    'login:ip:203.0.113.41',
    'login:ip:203.0.113.42',
    `login:known:${account}`,
    'register:ip:203.0.113.40',
    `reset:account:${account}`,
    'reset:ip:203.0.113.43'
  ].sort(), 'one key per counter, no "undefined", no email in clear')
  t.notOk(keys.some((k) => k.includes('undefined') || k.includes('@')))
  const ttl = await deps.redis.pttl(`${ns}login:ip:203.0.113.41`)
  t.ok(ttl > 0 && ttl <= 60_000, `counters expire with the window (${ttl} ms)`)
})

t.test('limits are kept in Redis, shared by every instance', async (t) => {
  const first = await buildTestApp(t, { RATE_LIMIT_LOGIN_PER_ACCOUNT_IP: '2' })
  const namespace = first.config.RATE_LIMIT_NAMESPACE
  const second = await buildTestApp(t, { RATE_LIMIT_LOGIN_PER_ACCOUNT_IP: '2', RATE_LIMIT_NAMESPACE: namespace }, {
    databaseUrl: first.config.DATABASE_URL
  })
  const payload = { email: 'shared@example.test', password: 'whatever it is' }
  t.equal((await first.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload })).statusCode, 401)
  t.equal((await second.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload })).statusCode, 401)
  t.equal((await first.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload })).statusCode, 429)
  const keys = await first.deps.redis.keys(`${namespace}*`)
  t.ok(keys.length > 0, 'counters live in Redis under the namespace')
})

t.test('the throttle settings have safe defaults and are validated', async (t) => {
  const defaults = loadConfig({})
  t.equal(defaults.RATE_LIMIT_LOGIN_PER_ACCOUNT_IP, 10)
  t.equal(defaults.RATE_LIMIT_LOGIN_PER_ACCOUNT, 100)
  t.equal(defaults.RATE_LIMIT_LOGIN_DELAY_MS, 1000)
  t.equal(defaults.RATE_LIMIT_LOGIN_MAX_DELAY_MS, 10000)
  t.equal(defaults.RATE_LIMIT_KNOWN_DEVICE_TTL_SECONDS, 30 * 24 * 3600)
  const refused: Array<[Record<string, string>, RegExp, string]> = [
    [{ RATE_LIMIT_LOGIN_PER_ACCOUNT_IP: '0' }, /RATE_LIMIT_LOGIN_PER_ACCOUNT_IP/, 'no limit at all'],
    [{ RATE_LIMIT_LOGIN_MAX_DELAY_MS: '60000' }, /RATE_LIMIT_LOGIN_MAX_DELAY_MS/, 'longer than the gateway waits'],
    [{ RATE_LIMIT_LOGIN_DELAY_MS: '5000', RATE_LIMIT_LOGIN_MAX_DELAY_MS: '1000' }, /_DELAY_MS must not/, 'first > max'],
    [{ RATE_LIMIT_LOGIN_PER_ACCOUNT: '5', RATE_LIMIT_LOGIN_PER_ACCOUNT_IP: '10' }, /ACCOUNT must be at/, 'soft < hard'],
    [{ RATE_LIMIT_NAMESPACE: 'no-colon' }, /RATE_LIMIT_NAMESPACE/, 'a namespace ends in a colon']
  ]
  for (const [env, message, why] of refused) t.throws(() => loadConfig(env), message, why)
})
