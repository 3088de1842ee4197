// Social sign-in against the real OpenID provider (oidc-provider, infra/src/dev-oidc.ts) on a free port:
// nothing of the protocol is mocked.
import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { freePort } from '@holo/infra/testing'
import { devSigningKey, startDevOidc, type DevOidc, type DevUser } from '../../../infra/src/dev-oidc.js'
import { bearer, buildTestApp, newAccount, register, waitForMail } from './helper.js'
import {
  APP_SCHEME, BrowserStandIn, callback, exchange, holoCode, loginAtProvider, pkce, PUBLIC_URL, socialSignIn, start,
  WEB_APP
} from './oauth-helpers.js'

const user = (email: string, emailVerified = true): DevUser =>
  ({ email, password: `pw-${email}`, name: `Name ${email.split('@')[0] ?? ''}`, emailVerified })

const DEV = user('dev@holo.test')
const UNVERIFIED = user('unverified@holo.test', false)
const TAKEN = user('taken@holo.test')
const LINKER = user('linker@holo.test')
const OTHER = user('other@holo.test')
const DISABLED = user('disabled@holo.test')
const POSTER = user('poster@holo.test')
const USERS = [DEV, UNVERIFIED, TAKEN, LINKER, OTHER, DISABLED, POSTER]

t.test('social sign-in with OpenID Connect', async (t) => {
  const port = await freePort()
  const key = devSigningKey('k1')
  const redirectUris = [`${PUBLIC_URL}/api/v1/auth/oauth/dev/callback`, `${PUBLIC_URL}/api/v1/auth/oauth/devpost/callback`]
  const clientSecret = 'dev-client-secret-for-tests'
  const providerOptions = { port, redirectUris, users: USERS, signingKey: key, clientSecret }
  let dev: DevOidc = await startDevOidc(providerOptions)
  t.teardown(async () => { await dev.close() })
  const downPort = await freePort()
  const { app, deps, mail } = await buildTestApp(t, {
    OAUTH_PROVIDERS: 'dev,off,down,devpost',
    OAUTH_DEVPOST_ISSUER: dev.issuer,
    OAUTH_DEVPOST_CLIENT_ID: dev.clientId,
    OAUTH_DEVPOST_CLIENT_SECRET: dev.clientSecret,
    OAUTH_DEVPOST_RESPONSE_MODE: 'form_post',
    OAUTH_DEVPOST_NAME: 'Dev (form post)',
    OAUTH_DEV_ISSUER: dev.issuer,
    OAUTH_DEV_CLIENT_ID: dev.clientId,
    OAUTH_DEV_CLIENT_SECRET: dev.clientSecret,
    OAUTH_OFF_ISSUER: dev.issuer,
    OAUTH_OFF_CLIENT_ID: 'off',
    OAUTH_OFF_CLIENT_SECRET: 'off-secret',
    OAUTH_OFF_ENABLED: 'false',
    OAUTH_DOWN_ISSUER: `http://127.0.0.1:${downPort}`,
    OAUTH_DOWN_CLIENT_ID: 'down',
    OAUTH_DOWN_CLIENT_SECRET: 'down-secret',
    OAUTH_REDIRECT_ALLOWLIST: `${WEB_APP},${APP_SCHEME}`,
    OAUTH_HTTP_TIMEOUT_MS: '2000'
  }, { withMail: true })
  const counts = async (): Promise<{ users: number, identities: number, sessions: number }> => ({
    users: await deps.prisma.user.count(),
    identities: await deps.prisma.identity.count(),
    sessions: await deps.prisma.session.count()
  })
  /** Runs `bad` and checks that it created no account, identity or session. */
  const nothingCreated = async (t: Test, bad: () => Promise<void>): Promise<void> => {
    const before = await counts()
    await bad()
    t.same(await counts(), before, 'nothing created')
  }

  t.test('the providers list shows the enabled ones only', async (t) => {
    const res = await app.inject({ url: '/api/v1/auth/oauth/providers' })
    t.equal(res.statusCode, 200)
    const item = (key: string, name: string): Record<string, string> =>
      ({ key, name, kind: 'oidc', startUrl: `/api/v1/auth/oauth/${key}/start` })
    t.same(res.json(), {
      items: [item('dev', 'Holo dev provider'), item('down', 'Down'), item('devpost', 'Dev (form post)')]
    }, 'not "off"')
  })

  let devUserId = ''
  t.test('first sign-in creates the account; the code gives the usual tokens', async (t) => {
    const s = await start(app, 'dev')
    t.equal(s.res.statusCode, 302)
    const auth = new URL(s.location)
    t.equal(auth.origin, dev.issuer)
    t.equal(auth.searchParams.get('code_challenge_method'), 'S256')
    t.match(auth.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/)
    t.ok(auth.searchParams.get('state'), 'state')
    t.ok(auth.searchParams.get('nonce'), 'nonce')
    t.match(s.cookie, /^holo_oauth=[A-Za-z0-9_-]{43}$/, 'browser-binding cookie')
    t.match(String(s.res.headers['set-cookie']), /HttpOnly; SameSite=Lax/)
    const cb = await callback(app, await loginAtProvider(s, 'dev', DEV), s.cookie)
    t.equal(cb.statusCode, 302, cb.body)
    const back = new URL(String(cb.headers.location))
    t.equal(`${back.origin}${back.pathname}`, `${WEB_APP}/signed-in`)
    t.same([...back.searchParams.keys()], ['code'], 'only the Holo code travels in the URL')
    const res = await exchange(app, holoCode(cb))
    t.equal(res.statusCode, 200, res.body)
    const out = res.json()
    t.same(Object.keys(out).sort(), ['accessToken', 'expiresIn', 'refreshToken', 'user'])
    t.equal(out.user.email, DEV.email)
    t.equal(out.user.username, 'dev')
    t.equal(out.user.displayName, DEV.name)
    t.equal(out.user.emailVerified, true, 'the provider verified the email')
    devUserId = out.user.id
    const me = await app.inject({ url: '/api/v1/auth/me', headers: bearer(out.accessToken) })
    t.equal(me.statusCode, 200)
    t.equal(me.json().id, devUserId)
    const sessions = await app.inject({ url: '/api/v1/auth/sessions', headers: bearer(out.accessToken) })
    t.equal(sessions.json().items[0].provider, 'dev', 'the session names its provider')
    const ids = await app.inject({ url: '/api/v1/auth/identities', headers: bearer(out.accessToken) })
    t.equal(ids.statusCode, 200)
    t.match(ids.json().items, [{ provider: 'dev', email: DEV.email, emailVerified: true }])
    t.equal(ids.json().items.length, 1)
    const row = await deps.prisma.user.findUniqueOrThrow({ where: { id: devUserId } })
    t.equal(row.passwordHash, null, 'no password')
    const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: DEV.email, password: DEV.password } })
    t.equal(login.statusCode, 401, 'the provider password is not a Holo password')
    const events = await deps.prisma.outbox.findMany({ where: { subject: devUserId } })
    t.same(events.map((e) => e.type).sort(), ['holo.user.email_verified.v1', 'holo.user.logged_in.v1', 'holo.user.registered.v1'])
  })

  t.test('signing in again reaches the same account', async (t) => {
    const before = await counts()
    const cb = await socialSignIn(app, 'dev', DEV)
    t.equal(cb.statusCode, 302, cb.body)
    const res = await exchange(app, holoCode(cb))
    t.equal(res.json().user.id, devUserId)
    const after = await counts()
    t.equal(after.users, before.users, 'no new account')
    t.equal(after.identities, before.identities, 'no new identity')
  })

  t.test('a Holo code is single use', async (t) => {
    const code = holoCode(await socialSignIn(app, 'dev', DEV))
    t.equal((await exchange(app, code)).statusCode, 200)
    await nothingCreated(t, async () => {
      const again = await exchange(app, code)
      t.equal(again.statusCode, 400)
      t.equal(again.json().code, 'OAUTH_CODE_INVALID')
      t.match(again.headers['content-type'], /^application\/problem\+json/)
    })
  })

  t.test('mobile: only the holder of the verifier can exchange (RFC 8252 + PKCE)', async (t) => {
    const { verifier, challenge } = pkce()
    const query = { redirectTo: `${APP_SCHEME}/oauth`, code_challenge: challenge, code_challenge_method: 'S256' }
    const cb = await socialSignIn(app, 'dev', DEV, query)
    t.equal(cb.statusCode, 302, cb.body)
    t.match(String(cb.headers.location), /^holo-app:\/oauth\?code=/)
    const code = holoCode(cb)
    await nothingCreated(t, async () => {
      const missing = await exchange(app, code)
      t.equal(missing.statusCode, 400)
      t.equal(missing.json().code, 'OAUTH_VERIFIER_MISMATCH')
    })
    t.equal((await exchange(app, code, verifier)).json().code, 'OAUTH_CODE_INVALID', 'a failed try spends the code')
    const cb2 = await socialSignIn(app, 'dev', DEV, query)
    const code2 = holoCode(cb2)
    const wrong = await exchange(app, code2, pkce().verifier)
    t.equal(wrong.statusCode, 400)
    t.equal(wrong.json().code, 'OAUTH_VERIFIER_MISMATCH')
    const ok = await exchange(app, holoCode(await socialSignIn(app, 'dev', DEV, query)), verifier)
    t.equal(ok.statusCode, 200, ok.body)
    t.equal(ok.json().user.id, devUserId)
  })

  t.test('the takeover rule: an existing email links only when both sides are verified', async (t) => {
    const account = { ...newAccount('tk'), email: TAKEN.email }
    const reg = await register(app, account)
    t.equal(reg.res.statusCode, 201)
    await nothingCreated(t, async () => {
      const cb = await socialSignIn(app, 'dev', TAKEN)
      t.equal(cb.statusCode, 409, 'the account\'s email is not verified')
      t.equal(cb.json().code, 'OAUTH_ACCOUNT_EXISTS')
      t.match(cb.json().detail, /Sign in the usual way, then link "dev"/)
      t.notOk(cb.headers.location, 'a problem, not a redirect')
    })
    await deps.prisma.user.update({ where: { id: reg.tokens.user.id }, data: { emailVerifiedAt: new Date() } })
    const cb = await socialSignIn(app, 'dev', TAKEN)
    t.equal(cb.statusCode, 302, 'both verified: linked automatically')
    t.equal((await exchange(app, holoCode(cb))).json().user.id, reg.tokens.user.id)

    const other = await register(app, { ...newAccount('uv'), email: UNVERIFIED.email })
    await deps.prisma.user.update({ where: { id: other.tokens.user.id }, data: { emailVerifiedAt: new Date() } })
    await nothingCreated(t, async () => {
      const unverified = await socialSignIn(app, 'dev', UNVERIFIED)
      t.equal(unverified.statusCode, 409, 'the provider did not verify the email')
      t.equal(unverified.json().code, 'OAUTH_ACCOUNT_EXISTS')
    })
  })

  t.test('linking and unlinking', async (t) => {
    const post = async (url: string, token: string, payload: object): Promise<LightMyRequestResponse> =>
      await app.inject({ method: 'POST', url, headers: bearer(token), payload })
    /** POST /link as `token`, then the browser flow with `as` at the provider: the link code of the redirect. */
    const linkCode = async (token: string, as: DevUser): Promise<string> => {
      const res = await post('/api/v1/auth/oauth/dev/link', token, { redirectTo: `${WEB_APP}/settings` })
      t.equal(res.statusCode, 200, res.body)
      const s = await start(app, 'dev', Object.fromEntries(new URL(res.json().startUrl, PUBLIC_URL).searchParams))
      t.equal(s.res.statusCode, 302, s.res.body)
      return holoCode(await callback(app, await loginAtProvider(s, 'dev', as), s.cookie))
    }
    const a = await register(app, newAccount('ln'))
    const b = await register(app, newAccount('lb'))
    const A = a.tokens.accessToken

    t.equal((await exchange(app, await linkCode(A, LINKER))).json().code, 'OAUTH_CODE_INVALID',
      'a link code signs nobody in (and the try spends it)')
    const wrongUser = await post('/api/v1/auth/identities', b.tokens.accessToken, { code: await linkCode(A, LINKER) })
    t.equal(wrongUser.statusCode, 400, 'only the account that started the link may confirm it')
    t.equal(wrongUser.json().code, 'OAUTH_CODE_INVALID')

    const linked = await post('/api/v1/auth/identities', A, { code: await linkCode(A, LINKER) })
    t.equal(linked.statusCode, 201, linked.body)
    t.match(linked.json(), { provider: 'dev', email: LINKER.email, emailVerified: true })
    const again = await post('/api/v1/auth/identities', A, { code: await linkCode(A, LINKER) })
    t.equal(again.statusCode, 201, 'linking the same identity again changes nothing')
    t.equal(again.json().id, linked.json().id)
    const signIn = await exchange(app, holoCode(await socialSignIn(app, 'dev', LINKER)))
    t.equal(signIn.json().user.id, a.tokens.user.id, 'the linked provider account signs in to A')
    const second = await post('/api/v1/auth/identities', A, { code: await linkCode(A, OTHER) })
    t.equal(second.statusCode, 409, 'one identity per provider and account')
    t.equal(second.json().code, 'IDENTITY_PROVIDER_LINKED')

    const taken = await post('/api/v1/auth/identities', b.tokens.accessToken, {
      code: await linkCode(b.tokens.accessToken, LINKER)
    })
    t.equal(taken.statusCode, 409, 'the same provider account cannot sign in to B as well')
    t.equal(taken.json().code, 'IDENTITY_TAKEN')

    const list = await app.inject({ url: '/api/v1/auth/identities', headers: bearer(A) })
    t.equal(list.json().items.length, 1)
    const id = String(list.json().items[0].id)
    const del = async (token: string, identityId: string): Promise<LightMyRequestResponse> =>
      await app.inject({ method: 'DELETE', url: `/api/v1/auth/identities/${identityId}`, headers: bearer(token) })
    t.equal((await del(A, id)).statusCode, 204, 'A has a password: the identity may go')
    t.equal((await del(A, id)).statusCode, 404, 'gone')

    const social = await exchange(app, holoCode(await socialSignIn(app, 'dev', DEV)))
    const S = social.json().accessToken
    const own = String((await app.inject({ url: '/api/v1/auth/identities', headers: bearer(S) })).json().items[0].id)
    const last = await del(S, own)
    t.equal(last.statusCode, 409)
    t.equal(last.json().code, 'LAST_SIGN_IN_METHOD')
    t.equal((await del(A, own)).statusCode, 404, 'another user\'s identity is not found')
    t.equal(await deps.prisma.identity.count({ where: { id: own } }), 1, 'still there')
  })

  t.test('a social-only account sets a password through the reset flow', async (t) => {
    if (mail === undefined) throw new Error('no mail')
    const req = await app.inject({ method: 'POST', url: '/api/v1/auth/password-reset', payload: { email: DEV.email } })
    t.equal(req.statusCode, 202)
    await app.accounts.drain()
    const { token } = await waitForMail(mail, DEV.email, /Reset/)
    const password = 'a brand new passphrase 42'
    const confirm = await app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/confirm', payload: { token, password } })
    t.equal(confirm.statusCode, 204, confirm.body)
    const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: DEV.email, password } })
    t.equal(login.statusCode, 200)
    const sessions = await app.inject({ url: '/api/v1/auth/sessions', headers: bearer(login.json().accessToken) })
    t.equal(sessions.json().items[0].provider, 'password')
  })

  t.test('a form_post answer (as Apple sends it) reaches the POST callback', async (t) => {
    const s = await start(app, 'devpost')
    t.equal(new URL(s.location).searchParams.get('response_mode'), 'form_post')
    const browser = new BrowserStandIn()
    const never = 'http://never.test/'
    const page = await browser.go(s.location, never)
    const action = /action="([^"]+)"/.exec(page.body)?.[1] ?? ''
    const form = { email: POSTER.email, password: POSTER.password }
    const done = await browser.go(new URL(action, s.location).href, never, { method: 'POST', form })
    t.equal(done.res.status, 200, 'the provider answers with a self-submitting form')
    t.match(done.body, `action="${PUBLIC_URL}/api/v1/auth/oauth/devpost/callback"`)
    const decode = (v: string): string => v.replace(/&#x([0-9a-f]+);/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))
      .replace(/&#(\d+);/g, (_m, d: string) => String.fromCharCode(Number(d))).replace(/&amp;/g, '&').replace(/&quot;/g, '"')
    const fields = Object.fromEntries([...done.body.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1] ?? '', decode(m[2] ?? '')]))
    t.ok(fields.code !== undefined && fields.state !== undefined, 'code and state in the form')
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/oauth/devpost/callback',
      headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(fields).toString()
    })
    t.equal(res.statusCode, 303, res.body)
    const ok = await exchange(app, holoCode(res))
    t.equal(ok.statusCode, 200)
    t.equal(ok.json().user.email, POSTER.email)
  })

  t.test('the callbacks are counted by provider and result', async (t) => {
    const text = (await app.inject({ url: '/metrics' })).body
    t.match(text, /auth_oauth_callbacks_total\{(?=[^}]*provider="dev")(?=[^}]*result="registered")[^}]*\} [1-9]/)
    t.match(text, /auth_oauth_callbacks_total\{(?=[^}]*provider="dev")(?=[^}]*result="signed_in")[^}]*\} [1-9]/)
    t.match(text, /auth_oauth_callbacks_total\{(?=[^}]*provider="dev")(?=[^}]*result="refused")[^}]*\} [1-9]/)
  })

  t.test('a disabled user cannot sign in by a provider', async (t) => {
    const first = await exchange(app, holoCode(await socialSignIn(app, 'dev', DISABLED)))
    const id = first.json().user.id
    const pending = holoCode(await socialSignIn(app, 'dev', DISABLED))
    await deps.prisma.user.update({ where: { id }, data: { disabledAt: new Date() } })
    await nothingCreated(t, async () => {
      const cb = await socialSignIn(app, 'dev', DISABLED)
      t.equal(cb.statusCode, 403)
      t.equal(cb.json().code, 'ACCOUNT_DISABLED')
      const late = await exchange(app, pending)
      t.equal(late.statusCode, 403, 'a code made before the account was disabled')
    })
  })

  t.test('bad input: each a 4xx problem, nothing created', async (t) => {
    t.test('unknown and disabled providers', async (t) => {
      await nothingCreated(t, async () => {
        const unknown = await start(app, 'nope')
        t.equal(unknown.res.statusCode, 404)
        t.equal(unknown.res.json().code, 'OAUTH_PROVIDER_UNKNOWN')
        const off = await start(app, 'off')
        t.equal(off.res.statusCode, 403)
        t.equal(off.res.json().code, 'OAUTH_PROVIDER_DISABLED')
        const cb = await app.inject({ url: '/api/v1/auth/oauth/off/callback?state=x&code=y' })
        t.equal(cb.statusCode, 403)
      })
    })

    t.test('redirectTo off the allowlist: 400 before any redirect', async (t) => {
      for (const redirectTo of [
        'https://evil.test/', 'https://app.holo.test.evil.test/', 'https://user@app.holo.test/', 'http://app.holo.test/',
        'javascript:alert(1)', 'other-app:/x', '/relative', `${WEB_APP}/#frag`
      ]) {
        const s = await start(app, 'dev', { redirectTo })
        t.equal(s.res.statusCode, 400, redirectTo)
        t.equal(s.res.json().code, 'REDIRECT_NOT_ALLOWED')
        t.notOk(s.res.headers.location)
        t.notOk(s.res.headers['set-cookie'])
      }
    })

    t.test('a link ticket that is invalid or used', async (t) => {
      await nothingCreated(t, async () => {
        const bad = await start(app, 'dev', { redirectTo: `${WEB_APP}/x`, linkTicket: 'x'.repeat(43) })
        t.equal(bad.res.statusCode, 400)
        t.equal(bad.res.json().code, 'OAUTH_LINK_TICKET_INVALID')
      })
      const noToken = await app.inject({ method: 'POST', url: '/api/v1/auth/oauth/dev/link', payload: { redirectTo: `${WEB_APP}/x` } })
      t.equal(noToken.statusCode, 401, 'linking needs a signed-in caller')
    })

    t.test('wrong, reused and foreign state', async (t) => {
      const s = await start(app, 'dev')
      const url = await loginAtProvider(s, 'dev', OTHER)
      await nothingCreated(t, async () => {
        const forged = new URL(url)
        forged.searchParams.set('state', 'not-the-state')
        const wrong = await callback(app, forged.href, s.cookie)
        t.equal(wrong.statusCode, 400)
        t.equal(wrong.json().code, 'OAUTH_STATE_INVALID')
        const missing = new URL(url)
        missing.searchParams.delete('state')
        t.equal((await callback(app, missing.href, s.cookie)).json().code, 'OAUTH_STATE_INVALID')
      })
      await nothingCreated(t, async () => {
        const noCookie = await callback(app, url, null)
        t.equal(noCookie.statusCode, 400, 'another browser')
        t.match(noCookie.json().detail, /another browser/)
      })
      // That try spent the state: the right browser now gets a reused state.
      const reused = await callback(app, url, s.cookie)
      t.equal(reused.statusCode, 400)
      t.match(reused.json().detail, /already used/)
    })

    t.test('the user refused at the provider: its error is a problem, not a redirect', async (t) => {
      const s = await start(app, 'dev')
      const state = new URL(s.location).searchParams.get('state') ?? ''
      await nothingCreated(t, async () => {
        const q = new URLSearchParams({ error: 'access_denied', state, iss: dev.issuer })
        const res = await callback(app, `${PUBLIC_URL}/api/v1/auth/oauth/dev/callback?${q.toString()}`, s.cookie)
        t.equal(res.statusCode, 400, res.body)
        t.equal(res.json().code, 'OAUTH_PROVIDER_ERROR')
        t.equal(res.json().providerError, 'access_denied')
        t.notOk(res.headers.location)
      })
    })

    t.test('a reused provider code', async (t) => {
      const s1 = await start(app, 'dev')
      const url1 = await loginAtProvider(s1, 'dev', DEV)
      t.equal((await callback(app, url1, s1.cookie)).statusCode, 302)
      const s2 = await start(app, 'dev')
      const replay = new URL(url1)
      replay.searchParams.set('state', new URL(s2.location).searchParams.get('state') ?? '')
      await nothingCreated(t, async () => {
        const res = await callback(app, replay.href, s2.cookie)
        t.equal(res.statusCode, 400)
        t.equal(res.json().code, 'OAUTH_CODE_REJECTED')
        t.equal(res.json().providerError, 'invalid_grant')
      })
    })

    t.test('a nonce that does not match', async (t) => {
      const s = await start(app, 'dev')
      const tampered = new URL(s.location)
      tampered.searchParams.set('nonce', 'someone-elses-nonce')
      const url = await loginAtProvider({ location: tampered.href }, 'dev', OTHER)
      await nothingCreated(t, async () => {
        const res = await callback(app, url, s.cookie)
        t.equal(res.statusCode, 400)
        t.equal(res.json().code, 'OAUTH_ID_TOKEN_INVALID')
        t.match(res.json().detail, /nonce/)
      })
    })

    /** Makes the provider's next ID tokens wrong in one way (a provider with a defect, for these tests only). */
    type IssueOptions = Record<string, unknown>
    type Change = (token: { client: { clientId: string } }, opts: IssueOptions) => IssueOptions
    const misissue = (change: Change): () => void => {
      const proto = dev.provider.IdToken.prototype as unknown as { issue: (o: Record<string, unknown>) => Promise<string> }
      const issue = proto.issue
      proto.issue = async function (this: { client: { clientId: string } }, opts: Record<string, unknown>) {
        return await issue.call(this, change(this, opts))
      }
      return () => { proto.issue = issue }
    }

    t.test('an ID token for another audience', async (t) => {
      const restore = misissue((token, opts) => {
        token.client = new Proxy(token.client, { get: (c, p) => p === 'clientId' ? 'another-client' : Reflect.get(c, p) as unknown })
        return opts
      })
      t.teardown(restore)
      await nothingCreated(t, async () => {
        const res = await socialSignIn(app, 'dev', OTHER)
        t.equal(res.statusCode, 400, res.body)
        t.equal(res.json().code, 'OAUTH_ID_TOKEN_INVALID')
        t.match(res.json().detail, /audience/)
      })
    })

    t.test('an expired ID token', async (t) => {
      const restore = misissue((_token, opts) => ({ ...opts, expiresAt: Math.floor(Date.now() / 1000) - 3600 }))
      t.teardown(restore)
      await nothingCreated(t, async () => {
        const res = await socialSignIn(app, 'dev', OTHER)
        t.equal(res.statusCode, 400, res.body)
        t.equal(res.json().code, 'OAUTH_ID_TOKEN_INVALID')
        t.match(res.json().detail, /expired/)
      })
    })

    t.test('an ID token signed by another key', async (t) => {
      // The same issuer, port and key id, another private key: the service knows the real key from the JWKS.
      await dev.close()
      dev = await startDevOidc({ ...providerOptions, signingKey: devSigningKey('k1') })
      t.teardown(async () => { await dev.close(); dev = await startDevOidc(providerOptions) })
      await nothingCreated(t, async () => {
        const res = await socialSignIn(app, 'dev', OTHER)
        t.equal(res.statusCode, 400, res.body)
        t.equal(res.json().code, 'OAUTH_ID_TOKEN_INVALID')
        t.match(res.json().detail, /signature/)
      })
    })

    t.test('a provider that is down: 503 naming it, no half-made account', async (t) => {
      const down = await start(app, 'down')
      t.equal(down.res.statusCode, 503)
      t.equal(down.res.json().dependency, 'oauth:down')
      t.match(down.res.json().detail, /"down" is unavailable/)
      t.ok(down.res.headers['retry-after'])
      const s = await start(app, 'dev')
      const url = await loginAtProvider(s, 'dev', OTHER)
      await dev.close()
      t.teardown(async () => { dev = await startDevOidc(providerOptions) })
      await nothingCreated(t, async () => {
        const res = await callback(app, url, s.cookie)
        t.equal(res.statusCode, 503, res.body)
        t.equal(res.json().dependency, 'oauth:dev')
      })
    })
  })
})
