import t from 'tap'
import { bearer, buildTestApp, newAccount, register } from './helper.js'

const problemBody = (body: Record<string, unknown>): Record<string, unknown> => {
  const { requestId: _r, ...rest } = body
  return rest
}

t.test('registration', async (t) => {
  const { app, deps } = await buildTestApp(t)

  t.test('creates the account, normalises the email and starts a session', async (t) => {
    const body = newAccount('Reg')
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { ...body, email: `  ${body.email.toUpperCase()} `, username: body.username.toUpperCase() }
    })
    t.equal(res.statusCode, 201, res.body)
    const out = res.json()
    t.same(Object.keys(out).sort(), ['accessToken', 'expiresIn', 'refreshToken', 'user'])
    t.equal(out.user.email, body.email)
    t.equal(out.user.username, body.username)
    t.same(out.user.roles, ['user'])
    t.equal(out.user.emailVerified, false)
    t.equal(out.expiresIn, 900)
    t.match(out.refreshToken, /^[A-Za-z0-9_-]{43}$/, '256-bit opaque refresh token')
    const row = await deps.prisma.user.findUniqueOrThrow({ where: { id: out.user.id } })
    t.match(row.passwordHash, /^\$argon2id\$/, 'argon2id hash')
    t.notOk(row.passwordHash?.includes(body.password))
    const stored = await deps.prisma.refreshToken.findMany({ where: { session: { userId: out.user.id } } })
    t.equal(stored.length, 1)
    t.not(stored[0]?.tokenHash, out.refreshToken, 'refresh tokens are stored hashed')
    const me = await app.inject({ url: '/api/v1/auth/me', headers: bearer(out.accessToken) })
    t.equal(me.statusCode, 200)
    t.same(me.json(), { ...out.user, permissions: [] }, 'the account, and what a plain user may do: nothing more')
  })

  t.test('duplicate email or username (any case) is 409', async (t) => {
    const { body } = await register(app)
    const dupEmail = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { ...newAccount(), email: body.email.toUpperCase() }
    })
    t.equal(dupEmail.statusCode, 409)
    t.equal(dupEmail.json().code, 'EMAIL_TAKEN')
    t.equal(dupEmail.headers['content-type'], 'application/problem+json; charset=utf-8')
    const dupName = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { ...newAccount(), username: body.username.toUpperCase() }
    })
    t.equal(dupName.statusCode, 409)
    t.equal(dupName.json().code, 'USERNAME_TAKEN')
  })

  t.test('bad input is a 400 naming the field', async (t) => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ username: 'ab' }, 'username'],
      [{ username: 'has space' }, 'username'],
      [{ username: 'x'.repeat(33) }, 'username'],
      [{ email: 'not-an-email' }, 'email'],
      [{ password: 'short' }, 'password'],
      [{ password: 'x'.repeat(129) }, 'password'],
      [{ password: 'password123' }, 'password'],
      [{ password: 'qwertyuiop' }, 'password'],
      [{ password: 'aaaaaaaaaaaa' }, 'password'],
      [{ extra: 1 }, 'extra']
    ]
    for (const [patch, field] of cases) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: { ...newAccount(), ...patch }
      })
      t.equal(res.statusCode, 400, `${JSON.stringify(patch)} → 400`)
      const body = res.json()
      t.ok(
        body.errors.some((e: { field: string }) => e.field === field),
        `${JSON.stringify(patch)} names ${field}: ${res.body}`
      )
    }
    const missing = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'a@b.test' } })
    t.equal(missing.statusCode, 400)
    t.ok(missing.json().errors.some((e: { field: string }) => e.field === 'password'))
    const malformed = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: '{"email":',
      headers: { 'content-type': 'application/json' }
    })
    t.equal(malformed.statusCode, 400)
    t.equal(malformed.json().code, 'MALFORMED_JSON')
  })
})

t.test('login', async (t) => {
  const { app, deps } = await buildTestApp(t)
  const { body, tokens } = await register(app)

  t.test('the right password logs in, email in any case', async (t) => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: ` ${body.email.toUpperCase()}`, password: body.password },
      headers: { 'user-agent': 'tap-agent' }
    })
    t.equal(res.statusCode, 200, res.body)
    t.equal(res.json().user.id, tokens.user.id)
    t.not(res.json().refreshToken, tokens.refreshToken)
    const sessions = await app.inject({ url: '/api/v1/auth/sessions', headers: bearer(res.json().accessToken) })
    t.equal(sessions.statusCode, 200)
    const items = sessions.json().items as Array<{ current: boolean, userAgent: string | null, ip: string }>
    t.equal(items.length, 2, 'registration and login are two sessions')
    t.equal(items.filter((s) => s.current).length, 1)
    t.equal(items.find((s) => s.current)?.userAgent, 'tap-agent')
    t.equal(items[0]?.ip, '127.0.0.1')
  })

  t.test('wrong password and unknown email give the same 401 body', async (t) => {
    const wrong = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: body.email, password: 'not the password at all' }
    })
    const unknown = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: `nobody-${body.email}`, password: 'not the password at all' }
    })
    t.equal(wrong.statusCode, 401)
    t.equal(unknown.statusCode, 401)
    t.same(problemBody(wrong.json()), problemBody(unknown.json()))
    t.equal(wrong.json().code, 'INVALID_CREDENTIALS')
    t.equal(wrong.headers['www-authenticate'], unknown.headers['www-authenticate'])
  })

  t.test('a disabled account is 403', async (t) => {
    const other = await register(app)
    await deps.prisma.user.update({ where: { id: other.tokens.user.id }, data: { disabledAt: new Date() } })
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: other.body.email, password: other.body.password }
    })
    t.equal(res.statusCode, 403)
    t.equal(res.json().code, 'ACCOUNT_DISABLED')
  })

  t.test('every event is in the append-only audit trail', async (t) => {
    const events = await deps.prisma.auditEvent.findMany({
      where: { targetId: tokens.user.id },
      orderBy: { createdAt: 'asc' }
    })
    const names = events.map((e) => e.event)
    t.ok(names.includes('register'))
    t.ok(names.includes('login.ok'))
    t.ok(names.includes('login.failed'))
    const failed = events.find((e) => e.event === 'login.failed')
    t.equal(failed?.ip, '127.0.0.1')
    t.ok(failed?.requestId, 'request id recorded')
    const unknown = await deps.prisma.auditEvent.findFirst({ where: { event: 'login.failed', targetId: null } })
    t.ok(unknown, 'failed login of an unknown email is recorded too')
    await t.rejects(deps.prisma.auditEvent.updateMany({ data: { event: 'tampered' } }), /append-only/)
    await t.rejects(deps.prisma.auditEvent.deleteMany({}), /append-only/)
    await t.rejects(deps.prisma.$executeRawUnsafe('TRUNCATE audit_events'), /append-only/)
  })

  t.test('domain counters are exported', async (t) => {
    const res = await app.inject({ url: '/metrics' })
    t.match(res.body, /auth_registrations_total\{service="auth"\} [1-9]/)
    t.match(res.body, /auth_logins_total\{result="ok",service="auth"\} [1-9]/)
    t.match(res.body, /auth_logins_total\{result="failed",service="auth"\} [1-9]/)
    t.match(res.body, /auth_refreshes_total/)
  })
})
