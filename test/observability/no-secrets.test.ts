// No secret ever reaches a log line: passwords, access and refresh tokens,
// reset/verification tokens, cookies (the refresh cookie of cookie mode and its
// CSRF token too) and signed-URL signatures, sent in bodies,
// headers and query strings to the three real services (real PostgreSQL,
// Redis, S3 and SMTP catcher), on routes that exist and on ones that do not (yet).
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { testDatabase, testMail, testRedisUrl, testS3 } from '@holo/infra/testing'
import { startService, type RunningService } from '../e2e/helpers.js'

const unique = randomBytes(5).toString('hex')
const JWKS_PATH = '/api/v1/auth/.well-known/jwks.json'

t.test('secrets sent to every service never appear in any captured log line', async (t) => {
  const db = await testDatabase(t)
  const mail = await testMail(t)
  const s3 = await testS3(t)
  const common = { LOG_LEVEL: 'trace', REDIS_URL: testRedisUrl() }
  const auth = await startService(t, 'auth', {
    ...common,
    DATABASE_URL: db.urlFor('auth'),
    SMTP_URL: `smtp://127.0.0.1:${mail.smtpPort}`,
    RATE_LIMIT_NAMESPACE: `test:obs-rl:${unique}:`,
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_TIME_COST: '1'
  })
  const verifier = { AUTH_JWKS_URL: `${auth.url}${JWKS_PATH}` }
  const card = await startService(t, 'card', {
    ...common,
    ...verifier,
    DATABASE_URL: db.urlFor('card'),
    CACHE_PREFIX: `obs-${unique}:`
  })
  // s3rver takes unsigned requests: the bucket is made up front.
  const bucket = `obs-${unique}`
  const made = await fetch(`${s3.endpoint}/${bucket}`, { method: 'PUT' })
  t.ok(made.ok, 'bucket created')
  const file = await startService(t, 'file', {
    ...common,
    ...verifier,
    DATABASE_URL: db.urlFor('file'),
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: bucket
  })
  const services: RunningService[] = [auth, card, file]

  // Every value here is a secret: none may be logged, however it was sent.
  const secrets = new Map<string, string>()
  const secret = (name: string, value: string): string => { secrets.set(name, value); return value }
  const password = secret('password', `Pw-${unique}-correct horse`)
  const newPassword = secret('newPassword', `NewPw-${unique}-battery staple`)
  const cookie = secret('cookie', `cookie-${unique}-session`)
  const resetToken = secret('reset token', `reset-${unique}-token-value`)
  const fakeSig = secret('fake signature', `sig${unique}ABCdef0123456789`)
  const email = `obs-${unique}@example.com`

  const call = async (
    s: RunningService,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {}
  ): Promise<{ status: number, json: Record<string, unknown> }> => {
    const res = await fetch(`${s.url}${path}`, {
      method,
      headers: {
        cookie: `sid=${cookie}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers
      },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const text = await res.text()
    let json: Record<string, unknown> = {}
    try { json = JSON.parse(text) as Record<string, unknown> } catch {}
    return { status: res.status, json }
  }

  // The account flows as a client drives them.
  const registered = await call(auth, 'POST', '/api/v1/auth/register', { email, password, username: `obs_${unique}` })
  t.equal(registered.status, 201, 'registered')
  const login = await call(auth, 'POST', '/api/v1/auth/login', { email, password })
  t.equal(login.status, 200, 'logged in')
  const tokenOf = (r: { json: Record<string, unknown> }, key: string): string => {
    const v = r.json[key] ?? (r.json.tokens as Record<string, unknown> | undefined)?.[key]
    return typeof v === 'string' ? v : ''
  }
  const accessToken = tokenOf(login, 'accessToken')
  const refreshToken = tokenOf(login, 'refreshToken')
  t.ok(accessToken.length > 20 && refreshToken.length > 20, 'got real tokens')
  secret('access token', accessToken)
  secret('refresh token', refreshToken)
  for (const r of [registered]) {
    for (const k of ['accessToken', 'refreshToken']) {
      if (tokenOf(r, k) !== '') secret(`registration ${k}`, tokenOf(r, k))
    }
  }
  const bearer = { authorization: `Bearer ${accessToken}` }

  // Cookie mode (browsers): the refresh token travels in Set-Cookie and Cookie, the CSRF token in the answer
  // and in X-CSRF-Token; refused (403) and accepted refreshes, and the logout that clears the cookie.
  const cookieLogin = await fetch(`${auth.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password, mode: 'cookie' })
  })
  const csrfToken = secret('csrf token', String((await cookieLogin.json() as { csrfToken?: string }).csrfToken))
  const refreshCookieOf = (res: Response): string =>
    /^(__Secure-holo_refresh=[^;]+)/.exec(res.headers.getSetCookie()[0] ?? '')?.[1] ?? ''
  let refreshCookie = refreshCookieOf(cookieLogin)
  t.ok(csrfToken.length > 20 && refreshCookie.length > 40, 'cookie mode: a CSRF token and a refresh cookie')
  secret('refresh cookie', refreshCookie.split('=')[1] ?? '')
  const fromCookie = async (route: string, csrf: string): Promise<Response> =>
    await fetch(`${auth.url}/api/v1/auth/${route}`, {
      method: 'POST',
      headers: { cookie: `${refreshCookie}; sid=${cookie}`, 'x-csrf-token': csrf }
    })
  t.equal((await fromCookie('refresh', `${csrfToken}x`)).status, 403, 'a wrong CSRF token is refused')
  const cookieRefresh = await fromCookie('refresh', csrfToken)
  t.equal(cookieRefresh.status, 200, 'refreshed from the cookie')
  refreshCookie = refreshCookieOf(cookieRefresh)
  secret('rotated refresh cookie', refreshCookie.split('=')[1] ?? '')
  t.equal((await fromCookie('logout', csrfToken)).status, 204, 'logged out from the cookie')
  await call(auth, 'GET', `/api/v1/auth/sessions?csrf=${csrfToken}`, undefined, bearer)

  const refreshed = await call(auth, 'POST', '/api/v1/auth/refresh', { refreshToken })
  t.equal(refreshed.status, 200, 'refreshed')
  for (const k of ['accessToken', 'refreshToken']) {
    if (tokenOf(refreshed, k) !== '') secret(`refreshed ${k}`, tokenOf(refreshed, k))
  }
  const freshAccess = tokenOf(refreshed, 'accessToken') || accessToken
  const freshBearer = { authorization: `Bearer ${freshAccess}` }
  await call(auth, 'POST', '/api/v1/auth/refresh', { refreshToken }) // reuse of a rotated token: refused, logged
  await call(auth, 'POST', '/api/v1/auth/login', { email, password: `${password}-wrong` })
  await call(auth, 'POST', '/api/v1/auth/password', { currentPassword: password, newPassword }, freshBearer)
  await call(auth, 'POST', '/api/v1/auth/password-reset', { email })
  await call(auth, 'POST', '/api/v1/auth/password-reset/confirm', { token: resetToken, password: newPassword })
  await call(auth, 'POST', '/api/v1/auth/verify-email', { token: resetToken })
  await call(auth, 'GET', `/api/v1/auth/sessions?token=${resetToken}&access_token=${accessToken}`,
    undefined, freshBearer)
  // Validation failures echo nothing of the bad value.
  await call(auth, 'POST', '/api/v1/auth/login', { email, password, extra: password })
  await call(auth, 'POST', '/api/v1/auth/register', { email: password, password, username: 'x' })

  // The other services, with the real token and with secrets in the query.
  await call(card, 'GET', `/api/v1/cards?token=${resetToken}`, undefined, freshBearer)
  await call(card, 'POST', '/api/v1/cards', { title: 'x', password, refreshToken }, bearer)
  await call(card, 'GET', '/api/v1/cards', undefined, { authorization: `Bearer ${accessToken}x` })
  await call(file, 'GET',
    `/api/v1/files/00000000-0000-4000-8000-000000000000/content?expires=9999999999&sig=${fakeSig}`)
  await call(file, 'GET', '/api/v1/files/usage', undefined, freshBearer)

  // A real signed URL: upload, sign, fetch; its signature must stay out of the logs.
  const form = new FormData()
  form.append('file', new Blob([Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
    'base64'
  )], { type: 'image/png' }), 'x.png')
  const upload = await fetch(`${file.url}/api/v1/files`, { method: 'POST', headers: freshBearer, body: form })
  const uploaded = await upload.json().catch(() => ({})) as { id?: string }
  t.equal(upload.status, 201, 'uploaded an image')
  const signed = await call(file, 'GET', `/api/v1/files/${uploaded.id ?? 'none'}/signed-url`, undefined, freshBearer)
  const url = typeof signed.json.url === 'string' ? signed.json.url : ''
  const sig = /[?&]sig=([^&]+)/.exec(url)?.[1] ?? ''
  t.ok(sig.length > 10, 'got a signed URL')
  secret('real signature', sig)
  const content = await fetch(`${file.url}${url.replace(/^https?:\/\/[^/]+/, '')}`)
  await content.arrayBuffer()
  t.equal(content.status, 200, 'the signed URL serves the file')

  // Routes that may not exist yet: the log must be just as clean. (A path
  // segment of an unknown route cannot be told from an id, so secrets go in
  // the query, body and headers; a known route's secret parameters are redacted.)
  for (const s of services) {
    await call(s, 'POST', `/api/v1/not-yet/a-route?password=${password}&refreshToken=${refreshToken}&sig=${fakeSig}`,
      {
        password,
        newPassword,
        currentPassword: password,
        refreshToken,
        accessToken,
        token: resetToken,
        csrfToken,
        nested: { password, token: resetToken, csrfToken }
      },
      { ...bearer, 'x-api-key': resetToken, 'x-csrf-token': csrfToken })
    await call(s, 'GET', `/health/ready?token=${resetToken}`, undefined, bearer)
  }

  // Wait (bounded) until each service has logged the last request's line.
  for (const s of services) {
    for (let i = 0; i < 50 && !s.logs.lines.some((l) => String(l.url ?? '').startsWith('/health/ready')); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  const all = services.flatMap((s) => s.logs.lines.map((l) => JSON.stringify(l)))
  t.ok(all.length > 30, `${all.length} log lines captured`)
  for (const [name, value] of secrets) {
    const leaks = all.filter((line) => line.includes(value) || line.includes(encodeURIComponent(value)))
    t.same(leaks, [], `${name} is in no log line`)
  }
  // The request lines are still useful: route, status, request id, user id.
  const lines = all.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request completed')
  t.ok(
    lines.some((l) => l.route === '/api/v1/auth/login' && l.status === 200 && typeof l.requestId === 'string'),
    'login request line'
  )
  t.ok(lines.some((l) => typeof l.userId === 'string' && l.userId !== ''), 'user id on authenticated requests')
  t.ok(lines.some((l) => String(l.url).includes('sig=[redacted]')), 'signed URL logged with its signature redacted')
})
