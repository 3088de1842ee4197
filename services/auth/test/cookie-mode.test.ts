// Cookie mode for first-party browsers: the refresh token in an HttpOnly cookie, refresh and logout from it
// guarded by the session's CSRF token; JSON mode (apps) unchanged. Real PostgreSQL and Redis.
import { createHash } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { freePort } from '@holo/infra/testing'
import { DEV_USER, devSigningKey, startDevOidc } from '../../../infra/src/dev-oidc.js'
import { loadConfig } from '../src/config.js'
import { generateSigningKeyPem } from '../src/keys.js'
import { buildTestApp, newAccount, register, type TestApp } from './helper.js'
import { holoCode, PUBLIC_URL, socialSignIn, WEB_APP } from './oauth-helpers.js'

const SECURE = '__Secure-holo_refresh'
const PLAIN = 'holo_refresh'
const sha256 = (raw: string): string => createHash('sha256').update(raw).digest('hex')
const sidOf = (jwt: string): string =>
  String(JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()).sid)

/** The Set-Cookie lines of a response. */
const setCookies = (res: LightMyRequestResponse): string[] => {
  const h = res.headers['set-cookie']
  return h === undefined ? [] : Array.isArray(h) ? h : [h]
}
/** The value `name` is set to (undefined: not set). */
const cookieValue = (res: LightMyRequestResponse, name: string): string | undefined => {
  const line = setCookies(res).find((l) => l.startsWith(`${name}=`))
  return line === undefined ? undefined : line.slice(name.length + 1).split(';')[0]
}

interface CookieSignIn { res: LightMyRequestResponse, cookie: string, csrfToken: string, accessToken: string }

async function signInWithCookie (app: FastifyInstance, name = SECURE): Promise<CookieSignIn & { userId: string }> {
  const { body } = await register(app)
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email: body.email, password: body.password, mode: 'cookie' }
  })
  if (res.statusCode !== 200) throw new Error(`login: ${res.statusCode} ${res.body}`)
  const json = res.json()
  const cookie = cookieValue(res, name) ?? ''
  return { res, cookie, csrfToken: json.csrfToken, accessToken: json.accessToken, userId: json.user.id }
}

const post = async (
  app: FastifyInstance,
  url: string,
  o: { cookie?: string, csrf?: string, payload?: unknown, name?: string } = {}
): Promise<LightMyRequestResponse> => await app.inject({
  method: 'POST',
  url,
  headers: {
    ...(o.cookie !== undefined ? { cookie: `${o.name ?? SECURE}=${o.cookie}` } : {}),
    ...(o.csrf !== undefined ? { 'x-csrf-token': o.csrf } : {})
  },
  ...(o.payload !== undefined ? { payload: o.payload as Record<string, unknown> } : {})
})
type PostOptions = Parameters<typeof post>[2]
const refresh = async (app: FastifyInstance, o: PostOptions) => await post(app, '/api/v1/auth/refresh', o)
const logout = async (app: FastifyInstance, o: PostOptions) => await post(app, '/api/v1/auth/logout', o)
/** The attributes after the value, as serialised by @fastify/cookie. */
const SECURE_ATTRIBUTES = 'Max-Age=2592000; Path=/api/v1/auth; HttpOnly; Secure; SameSite=Strict'
const PLAIN_ATTRIBUTES = 'Max-Age=2592000; Path=/api/v1/auth; HttpOnly; SameSite=Strict'
const TOKEN = '[A-Za-z0-9_-]{43}'

/** The session's live refresh token hashes: what a refused request must leave as it was. */
const liveHashes = async (h: TestApp, sid: string): Promise<string[]> =>
  (await h.deps.prisma.refreshToken.findMany({ where: { sessionId: sid, rotatedAt: null } })).map((r) => r.tokenHash)

function assertCsrfRefused (t: Test, res: LightMyRequestResponse): void {
  t.equal(res.statusCode, 403, res.body)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.equal(res.json().code, 'CSRF_TOKEN_INVALID')
  t.same(setCookies(res), [], 'no cookie set or cleared')
}

t.test('cookie mode, secure (the default)', async (t) => {
  const h = await buildTestApp(t)
  const { app, deps } = h

  t.test('login answers the access token and a csrfToken, and sets the refresh cookie', async (t) => {
    const s = await signInWithCookie(app)
    const json = s.res.json()
    t.notOk('refreshToken' in json, 'no refresh token in the answer')
    t.match(json, { user: { id: String }, accessToken: String, expiresIn: 900, csrfToken: /^[A-Za-z0-9_-]{43}$/ })
    t.equal(s.res.headers['cache-control'], 'no-store')
    const lines = setCookies(s.res)
    t.equal(lines.length, 1, 'one cookie')
    t.match(s.cookie, /^[A-Za-z0-9_-]{43}$/)
    t.equal(lines[0], `${SECURE}=${s.cookie}; ${SECURE_ATTRIBUTES}`)
    const session = await deps.prisma.session.findUniqueOrThrow({ where: { id: sidOf(s.accessToken) } })
    t.equal(session.csrfHash, sha256(s.csrfToken), 'the session keeps only the SHA-256 of its CSRF token')
    t.same(await liveHashes(h, session.id), [sha256(s.cookie)], 'the cookie holds the live refresh token')
  })

  t.test('register in cookie mode does the same', async (t) => {
    const payload = { ...newAccount(), mode: 'cookie' }
    const res = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload })
    t.equal(res.statusCode, 201, res.body)
    t.notOk('refreshToken' in res.json())
    t.type(res.json().csrfToken, 'string')
    t.match(setCookies(res)[0], new RegExp(`^${SECURE}=${TOKEN}; ${SECURE_ATTRIBUTES}$`))
  })

  t.test('refresh from the cookie with the CSRF header rotates the cookie', async (t) => {
    const s = await signInWithCookie(app)
    const sid = sidOf(s.accessToken)
    const res = await refresh(app, { cookie: s.cookie, csrf: s.csrfToken })
    t.equal(res.statusCode, 200, res.body)
    const json = res.json()
    t.notOk('refreshToken' in json, 'the new refresh token is not answered')
    t.notOk('csrfToken' in json, 'the CSRF token is not rotated (it is the session\'s)')
    t.equal(sidOf(json.accessToken), sid, 'same session')
    const next = cookieValue(res, SECURE) ?? ''
    t.not(next, s.cookie, 'a new refresh token')
    t.equal(setCookies(res)[0], `${SECURE}=${next}; ${SECURE_ATTRIBUTES}`)
    t.same(await liveHashes(h, sid), [sha256(next)], 'the new cookie holds the only live refresh token')
    const again = await refresh(app, { cookie: next, csrf: s.csrfToken })
    t.equal(again.statusCode, 200, 'the same CSRF token keeps working for the session')
  })

  t.test('refresh from the cookie without, or with a wrong, CSRF header is 403 and changes nothing', async (t) => {
    const s = await signInWithCookie(app)
    const other = await signInWithCookie(app)
    const sid = sidOf(s.accessToken)
    const before = await liveHashes(h, sid)
    assertCsrfRefused(t, await refresh(app, { cookie: s.cookie }))
    assertCsrfRefused(t, await refresh(app, { cookie: s.cookie, csrf: 'x'.repeat(43) }))
    assertCsrfRefused(t, await refresh(app, { cookie: s.cookie, csrf: '' }))
    assertCsrfRefused(t, await refresh(app, { cookie: s.cookie, csrf: other.csrfToken }))
    t.same(await liveHashes(h, sid), before, 'nothing rotated')
    const metrics = (await app.inject({ url: '/metrics' })).body
    t.match(metrics, /auth_refreshes_total\{result="csrf"[^}]*\} [1-9]/, 'refusals are counted')
    t.equal((await refresh(app, { cookie: s.cookie, csrf: s.csrfToken })).statusCode, 200, 'the cookie still works')
  })

  t.test('a rotated cookie presented after the grace window revokes the session', async (t) => {
    const s = await signInWithCookie(app)
    const sid = sidOf(s.accessToken)
    const r1 = await refresh(app, { cookie: s.cookie, csrf: s.csrfToken })
    const c1 = cookieValue(r1, SECURE) ?? ''
    const r2 = await refresh(app, { cookie: c1, csrf: s.csrfToken })
    const c2 = cookieValue(r2, SECURE) ?? ''
    await deps.prisma.refreshToken.updateMany({
      where: { sessionId: sid, rotatedAt: { not: null } },
      data: { rotatedAt: new Date(Date.now() - 60_000) }
    })
    const withoutCsrf = await refresh(app, { cookie: s.cookie })
    assertCsrfRefused(t, withoutCsrf)
    t.equal((await deps.prisma.session.findUniqueOrThrow({ where: { id: sid } })).revokedAt, null,
      'without the CSRF token even a stolen old cookie changes nothing')
    const stolen = await refresh(app, { cookie: s.cookie, csrf: s.csrfToken })
    t.equal(stolen.statusCode, 401)
    t.equal(stolen.json().code, 'REFRESH_TOKEN_REUSED')
    const newest = await refresh(app, { cookie: c2, csrf: s.csrfToken })
    t.equal(newest.statusCode, 401, 'the newest cookie is dead too')
    t.equal(newest.json().code, 'REFRESH_TOKEN_INVALID')
    const session = await deps.prisma.session.findUniqueOrThrow({ where: { id: sid } })
    t.equal(session.revokedReason, 'refresh_token_reuse')
  })

  t.test('within the grace window the just-rotated cookie answers again', async (t) => {
    const s = await signInWithCookie(app)
    const sid = sidOf(s.accessToken)
    const first = await refresh(app, { cookie: s.cookie, csrf: s.csrfToken })
    const again = await refresh(app, { cookie: s.cookie, csrf: s.csrfToken })
    t.equal(again.statusCode, 200, 'a lost response recovered')
    const recovered = cookieValue(again, SECURE) ?? ''
    t.not(recovered, cookieValue(first, SECURE))
    t.same(await liveHashes(h, sid), [sha256(recovered)], 'still one live token')
  })

  t.test('the body\'s refresh token comes first, and the CSRF rule follows the session', async (t) => {
    const s = await signInWithCookie(app)
    const { tokens } = await register(app)
    // A JSON-mode session's refresh token never comes from the cookie.
    assertCsrfRefused(t, await refresh(app, { cookie: tokens.refreshToken, csrf: s.csrfToken }))
    // A cookie-mode session's refresh token needs its CSRF token in the body too, and stays in the cookie.
    assertCsrfRefused(t, await refresh(app, { payload: { refreshToken: s.cookie } }))
    const inBody = await refresh(app, { payload: { refreshToken: s.cookie }, csrf: s.csrfToken })
    t.equal(inBody.statusCode, 200, inBody.body)
    t.notOk('refreshToken' in inBody.json(), 'answered in cookie mode')
    t.ok(cookieValue(inBody, SECURE), 'the new refresh token is set as the cookie')
    // With both, the body wins: the JSON session refreshes as always and the cookie is left alone.
    const json = await refresh(app, { payload: { refreshToken: tokens.refreshToken }, cookie: 'x'.repeat(43) })
    t.equal(json.statusCode, 200, json.body)
    t.type(json.json().refreshToken, 'string')
    t.same(setCookies(json), [], 'no cookie for a JSON-mode session')
  })

  t.test('no refresh token at all is a 400 naming it', async (t) => {
    for (const [what, res] of [
      ['no body', await refresh(app, {})],
      ['an empty object', await refresh(app, { payload: {} })],
      ['logout, no body', await logout(app, {})],
      ['an empty cookie', await refresh(app, { cookie: '', csrf: 'x' })]
    ] as const) {
      t.equal(res.statusCode, 400, what)
      t.equal(res.json().code, 'REFRESH_TOKEN_MISSING', what)
      t.equal(res.json().errors[0].field, 'refreshToken', what)
    }
    const unknown = await refresh(app, { cookie: 'x'.repeat(43), csrf: 'y'.repeat(43) })
    t.equal(unknown.statusCode, 401, 'an unknown cookie is a 401 like an unknown token')
  })

  t.test('logout from the cookie needs the CSRF header, ends the session and clears the cookie', async (t) => {
    const s = await signInWithCookie(app)
    const sid = sidOf(s.accessToken)
    assertCsrfRefused(t, await logout(app, { cookie: s.cookie }))
    assertCsrfRefused(t, await logout(app, { cookie: s.cookie, csrf: 'x'.repeat(43) }))
    t.equal((await deps.prisma.session.findUniqueOrThrow({ where: { id: sid } })).revokedAt, null, 'still signed in')
    const out = await logout(app, { cookie: s.cookie, csrf: s.csrfToken })
    t.equal(out.statusCode, 204, out.body)
    t.same(setCookies(out), [
      `${SECURE}=; Max-Age=0; Path=/api/v1/auth; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Strict`
    ])
    const session = await deps.prisma.session.findUniqueOrThrow({ where: { id: sid } })
    t.equal(session.revokedReason, 'logout')
    const me = await app.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${s.accessToken}` } })
    t.equal(me.statusCode, 401, 'its access token is refused')
    t.equal((await refresh(app, { cookie: s.cookie, csrf: s.csrfToken })).statusCode, 401, 'the cookie is dead')
    const again = await logout(app, { cookie: s.cookie, csrf: s.csrfToken })
    t.equal(again.statusCode, 204, 'idempotent')
    t.equal(setCookies(again).length, 1, 'and clears the cookie again')
  })

  t.test('JSON mode is unchanged: the refresh token in the answer, no cookie, no CSRF token', async (t) => {
    const { body } = await register(app)
    for (const mode of [undefined, 'json']) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: body.email, password: body.password, ...(mode !== undefined ? { mode } : {}) }
      })
      t.equal(res.statusCode, 200)
      t.type(res.json().refreshToken, 'string')
      t.notOk('csrfToken' in res.json())
      t.same(setCookies(res), [])
      const session = await deps.prisma.session.findUniqueOrThrow({ where: { id: sidOf(res.json().accessToken) } })
      t.equal(session.csrfHash, null)
      const out = await logout(app, { payload: { refreshToken: res.json().refreshToken } })
      t.equal(out.statusCode, 204)
      t.same(setCookies(out), [], 'a JSON-mode logout sets no cookie')
    }
    const bad = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: body.email, password: body.password, mode: 'header' }
    })
    t.equal(bad.statusCode, 400)
    t.equal(bad.json().errors[0].field, 'mode')
  })
})

t.test('cookie mode over plain http (AUTH_COOKIE_SECURE=false): no prefix, no Secure', async (t) => {
  const h = await buildTestApp(t, { AUTH_COOKIE_SECURE: 'false' })
  const s = await signInWithCookie(h.app, PLAIN)
  t.equal(setCookies(s.res)[0], `${PLAIN}=${s.cookie}; ${PLAIN_ATTRIBUTES}`)
  const r = await refresh(h.app, { cookie: s.cookie, csrf: s.csrfToken, name: PLAIN })
  t.equal(r.statusCode, 200, r.body)
  t.match(setCookies(r)[0], new RegExp(`^${PLAIN}=${TOKEN}; ${PLAIN_ATTRIBUTES}$`))
  // The secure name means nothing here.
  t.equal((await refresh(h.app, { cookie: s.cookie, csrf: s.csrfToken, name: SECURE })).statusCode, 400)
})

t.test('the refresh cookie lives as long as a refresh token', async (t) => {
  const h = await buildTestApp(t, { REFRESH_TOKEN_TTL_SECONDS: '3600' })
  const s = await signInWithCookie(h.app)
  t.match(setCookies(s.res)[0], /; Max-Age=3600; /)
})

t.test('a social sign-in\'s code exchanged in cookie mode opens a cookie-mode session', async (t) => {
  const dev = await startDevOidc({
    port: await freePort(),
    redirectUris: [`${PUBLIC_URL}/api/v1/auth/oauth/dev/callback`],
    users: [DEV_USER],
    signingKey: devSigningKey('k1')
  })
  t.teardown(async () => { await dev.close() })
  const h = await buildTestApp(t, {
    OAUTH_PROVIDERS: 'dev',
    OAUTH_DEV_ISSUER: dev.issuer,
    OAUTH_DEV_CLIENT_ID: dev.clientId,
    OAUTH_DEV_CLIENT_SECRET: dev.clientSecret,
    OAUTH_REDIRECT_ALLOWLIST: WEB_APP,
    OAUTH_AVATAR_IMPORT: 'false'
  })
  const code = holoCode(await socialSignIn(h.app, 'dev', DEV_USER))
  const res = await post(h.app, '/api/v1/auth/oauth/exchange', { payload: { code, mode: 'cookie' } })
  t.equal(res.statusCode, 200, res.body)
  t.notOk('refreshToken' in res.json(), 'no refresh token in the answer')
  const csrfToken = String(res.json().csrfToken)
  const cookie = cookieValue(res, SECURE) ?? ''
  t.equal(setCookies(res)[0], `${SECURE}=${cookie}; ${SECURE_ATTRIBUTES}`)
  const session = await h.deps.prisma.session.findUniqueOrThrow({ where: { id: sidOf(res.json().accessToken) } })
  t.equal(session.provider, 'dev')
  t.equal(session.csrfHash, sha256(csrfToken))
  assertCsrfRefused(t, await refresh(h.app, { cookie }))
  t.equal((await refresh(h.app, { cookie, csrf: csrfToken })).statusCode, 200, 'refreshes from the cookie')
})

t.test('production refuses AUTH_COOKIE_SECURE=false', async (t) => {
  const prod = {
    NODE_ENV: 'production',
    PUBLIC_URL: 'https://holo.cards',
    AUTH_SIGNING_KEYS: `k1:${Buffer.from(generateSigningKeyPem()).toString('base64')}`
  }
  t.ok(loadConfig(prod), 'a safe production config loads')
  t.throws(() => loadConfig({ ...prod, AUTH_COOKIE_SECURE: 'false' }), /AUTH_COOKIE_SECURE/)
  t.throws(() => loadConfig({ AUTH_COOKIE_SECURE: 'maybe' }), /AUTH_COOKIE_SECURE/)
  t.equal(loadConfig({}).AUTH_COOKIE_SECURE, true, 'secure by default')
  t.equal(loadConfig({ AUTH_COOKIE_SECURE: 'false' }).AUTH_COOKIE_SECURE, false, 'allowed outside production')
})
