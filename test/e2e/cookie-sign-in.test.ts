// Cookie mode through the real nginx gateway (gateway/nginx.conf rendered for local ports) in front of the
// real auth service, driven with the generated client as a browser app would: Set-Cookie reaches the client
// unchanged, the Cookie header reaches the service, and refresh and logout work from it with the CSRF token.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { createHoloClient } from '@holo/api-client'
import { testDatabase, testGateway, testRedisUrl } from '@holo/infra/testing'
import { startService } from './helpers.js'

const COOKIE = '__Secure-holo_refresh'
const ATTRIBUTES = 'Max-Age=2592000; Path=/api/v1/auth; HttpOnly; Secure; SameSite=Strict'

t.test('cookie sign-in through the gateway', async (t) => {
  const db = await testDatabase(t)
  const auth = await startService(t, 'auth', {
    DATABASE_URL: db.urlFor('auth'),
    REDIS_URL: testRedisUrl(),
    RATE_LIMIT_NAMESPACE: `e2e-cookie:${randomUUID()}:`,
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_TIME_COST: '1'
  })
  const gw = await testGateway(t, { auth: `127.0.0.1:${auth.port}`, card: '127.0.0.1:9', file: '127.0.0.1:9' })
  const client = createHoloClient(gw.url)
  /** The refresh cookie a response sets, as the browser would send it back ("name=value"). */
  const cookieOf = (res: Response): string => (res.headers.getSetCookie()[0] ?? '').split(';')[0] ?? ''

  const account = { email: `cookie-${randomUUID()}@example.test`, password: 'Cookie passphrase battery' }
  const registered = await client.auth.POST('/api/v1/auth/register', {
    body: { ...account, username: `ck_${randomUUID().slice(0, 8)}` }
  })
  t.equal(registered.response.status, 201)

  const login = await client.auth.POST('/api/v1/auth/login', { body: { ...account, mode: 'cookie' } })
  t.equal(login.response.status, 200)
  t.notOk(login.data?.refreshToken, 'no refresh token in the answer')
  const csrfToken = login.data?.csrfToken ?? ''
  t.match(csrfToken, /^[A-Za-z0-9_-]{43}$/, 'a CSRF token in the answer')
  const setCookie = login.response.headers.getSetCookie()
  t.equal(setCookie.length, 1, 'one Set-Cookie through nginx')
  t.match(setCookie[0], new RegExp(`^${COOKIE}=[A-Za-z0-9_-]{43}; ${ATTRIBUTES}$`), 'its attributes unchanged')
  let cookie = cookieOf(login.response)

  // As a browser's fetch would send it: no body at all, the cookie and the header.
  const withoutCsrf = await fetch(`${gw.url}/api/v1/auth/refresh`, { method: 'POST', headers: { cookie } })
  t.equal(withoutCsrf.status, 403, 'the cookie alone does not refresh')
  t.match(withoutCsrf.headers.get('content-type'), /^application\/problem\+json/)
  t.equal((await withoutCsrf.json() as { code: string }).code, 'CSRF_TOKEN_INVALID')

  const refreshed = await fetch(`${gw.url}/api/v1/auth/refresh`, {
    method: 'POST',
    headers: { cookie, 'x-csrf-token': csrfToken }
  })
  t.equal(refreshed.status, 200, 'refreshed from the cookie through nginx')
  const body = await refreshed.json() as { accessToken?: string, refreshToken?: string }
  t.notOk(body.refreshToken, 'still no refresh token in the answer')
  const next = cookieOf(refreshed)
  t.not(next, cookie, 'the cookie is rotated')
  t.match(refreshed.headers.getSetCookie()[0], new RegExp(`; ${ATTRIBUTES}$`))

  // The generated client, with the header it declares.
  client.setAccessToken(body.accessToken)
  const me = await client.auth.GET('/api/v1/auth/me')
  t.equal(me.data?.email, account.email, 'the new access token works through nginx')
  const again = await client.auth.POST('/api/v1/auth/refresh', {
    body: {},
    params: { header: { 'x-csrf-token': csrfToken } },
    headers: { cookie: next }
  })
  t.equal(again.response.status, 200, 'the rotated cookie refreshes with the same CSRF token')
  t.notOk(again.data?.csrfToken, 'the CSRF token is the session\'s: not answered again')
  cookie = cookieOf(again.response)

  const out = await client.auth.POST('/api/v1/auth/logout', {
    body: {},
    params: { header: { 'x-csrf-token': csrfToken } },
    headers: { cookie }
  })
  t.equal(out.response.status, 204)
  t.match(out.response.headers.getSetCookie()[0], new RegExp(`^${COOKIE}=; Max-Age=0; Path=/api/v1/auth; `),
    'the logout clears the cookie through nginx')
  const after = await fetch(`${gw.url}/api/v1/auth/refresh`, {
    method: 'POST',
    headers: { cookie, 'x-csrf-token': csrfToken }
  })
  t.equal(after.status, 401, 'the session is over')
})
