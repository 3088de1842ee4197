import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { bearer, buildTestApp, newAccount, register, type AuthTokens } from './helper.js'

const ADMIN = { email: 'nul-admin@example.test', password: 'bootstrap admin passphrase' }

// PostgreSQL text cannot hold U+0000: such input is the client's mistake (400 naming the field), never a 500.
t.test('a NUL character is a 400 problem naming the field', async (t) => {
  const { app } = await buildTestApp(t, {
    BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
    BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password
  })
  const refused = (res: LightMyRequestResponse, field: string, what: string): void => {
    t.equal(res.statusCode, 400, `${what}: ${res.body}`)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', what)
    const errors = (res.json().errors ?? []) as Array<{ field: string }>
    t.ok(errors.some((e) => e.field === field), `${what} names ${field}`)
  }
  const post = async (url: string, payload: object, headers: Record<string, string> = {}) =>
    await app.inject({ method: 'POST', url: `/api/v1/auth${url}`, payload, headers })
  const { tokens } = await register(app)
  const admin = (await post('/login', ADMIN)).json() as AuthTokens
  const account = newAccount()
  const nulEmail = `nul\u0000${account.email}`

  refused(await post('/register', { ...account, email: nulEmail }), 'email', 'register')
  refused(await post('/login', { email: nulEmail, password: account.password }), 'email', 'login')
  const me = await app.inject({
    method: 'PATCH',
    url: '/api/v1/auth/me',
    headers: bearer(tokens.accessToken),
    payload: { displayName: 'Ada\u0000Lovelace' }
  })
  refused(me, 'displayName', 'PATCH /me')
  const search = await app.inject({ url: '/api/v1/auth/users?q=ab%00cd', headers: bearer(admin.accessToken) })
  refused(search, 'q', 'admin search')
})
