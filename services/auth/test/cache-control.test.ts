import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { bearer, buildTestApp, register, type AuthTokens } from './helper.js'

const ADMIN = { email: 'cache-admin@example.test', password: 'bootstrap admin passphrase' }

t.test('tokens and personal data are never stored by a cache (RFC 6749 §5.1)', async (t) => {
  const { app } = await buildTestApp(t, {
    BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
    BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password
  })
  const noStore = (res: LightMyRequestResponse, what: string): void => {
    t.equal(res.headers['cache-control'], 'no-store', `${what}: Cache-Control`)
    t.equal(res.headers.pragma, 'no-cache', `${what}: Pragma`)
  }
  const post = async (url: string, payload: object, headers: Record<string, string> = {}) =>
    await app.inject({ method: 'POST', url: `/api/v1/auth${url}`, payload, headers })
  const get = async (url: string, headers: Record<string, string> = {}) =>
    await app.inject({ url: `/api/v1/auth${url}`, headers })

  const { res: registered, body, tokens } = await register(app)
  t.equal(registered.statusCode, 201)
  noStore(registered, 'register')
  const login = await post('/login', { email: body.email, password: body.password })
  t.equal(login.statusCode, 200)
  noStore(login, 'login')
  const refreshed = await post('/refresh', { refreshToken: (login.json() as AuthTokens).refreshToken })
  t.equal(refreshed.statusCode, 200)
  noStore(refreshed, 'refresh')
  noStore(await post('/login', { email: body.email, password: 'not the password at all' }), 'failed login')
  noStore(await post('/refresh', { refreshToken: 'x'.repeat(43) }), 'failed refresh')

  const me = bearer(tokens.accessToken)
  noStore(await get('/me', me), 'GET /me')
  noStore(await app.inject({ method: 'PATCH', url: '/api/v1/auth/me', headers: me, payload: { bio: 'x' } }), 'PATCH me')
  noStore(await get('/sessions', me), 'GET /sessions')
  noStore(await get('/me'), 'a 401')
  noStore(await get(`/profiles/${tokens.user.id}`), 'public profile')
  noStore(await get(`/profiles?ids=${tokens.user.id}`), 'public profiles')

  const admin = (await post('/login', ADMIN)).json() as AuthTokens
  noStore(await get('/users', bearer(admin.accessToken)), 'admin user list')
  noStore(await get(`/users/${tokens.user.id}`, bearer(admin.accessToken)), 'admin user read')
  const patched = await app.inject({
    method: 'PATCH',
    url: `/api/v1/auth/users/${tokens.user.id}`,
    headers: bearer(admin.accessToken),
    payload: { roles: ['creator'] }
  })
  noStore(patched, 'admin user update')
  noStore(await post('/logout', { refreshToken: tokens.refreshToken }), 'logout')

  const jwks = await get('/.well-known/jwks.json')
  t.equal(jwks.headers['cache-control'], 'public, max-age=300', 'the public keys stay cacheable')
  t.equal(jwks.headers.pragma, undefined)
})
