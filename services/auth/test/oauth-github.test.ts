// The GitHub adapter (OAuth 2 + PKCE + state, then GET /user and /user/emails) against a local stand-in for
// github.com (test/github-stand-in.ts).
import t from 'tap'
import { buildTestApp, register, newAccount } from './helper.js'
import { CLIENT_ID, CLIENT_SECRET, githubStandIn, type GhAccount } from './github-stand-in.js'
import { BrowserStandIn, callback, exchange, holoCode, PUBLIC_URL, start, WEB_APP } from './oauth-helpers.js'

t.test('GitHub sign-in', async (t) => {
  const gh = await githubStandIn(t)
  const { app, deps } = await buildTestApp(t, {
    OAUTH_PROVIDERS: 'github',
    OAUTH_GITHUB_CLIENT_ID: CLIENT_ID,
    OAUTH_GITHUB_CLIENT_SECRET: CLIENT_SECRET,
    OAUTH_GITHUB_AUTHORIZE_URL: `${gh.url}/login/oauth/authorize`,
    OAUTH_GITHUB_TOKEN_URL: `${gh.url}/login/oauth/access_token`,
    OAUTH_GITHUB_API_URL: gh.url,
    OAUTH_REDIRECT_ALLOWLIST: WEB_APP
  })
  const stopAt = `${PUBLIC_URL}/api/v1/auth/oauth/github/callback`
  const counts = async (): Promise<number[]> =>
    [await deps.prisma.user.count(), await deps.prisma.identity.count(), await deps.prisma.session.count()]
  const signIn = async (): Promise<{ url: string, cookie: string }> => {
    const s = await start(app, 'github')
    if (s.res.statusCode !== 302) throw new Error(s.res.body)
    const { stoppedAt } = await new BrowserStandIn().go(s.location, stopAt)
    return { url: stoppedAt ?? '', cookie: s.cookie }
  }
  const octo: GhAccount = {
    id: 583231,
    login: 'Octo-Cat',
    name: 'The Octocat',
    emails: [{ email: 'octo@old.test', primary: false, verified: true }, { email: 'Octo@Example.test', primary: true, verified: true }]
  }

  let id = ''
  t.test('first sign-in creates the account from /user and the primary verified email', async (t) => {
    gh.as(octo)
    const s = await start(app, 'github')
    const auth = new URL(s.location)
    t.equal(auth.origin + auth.pathname, `${gh.url}/login/oauth/authorize`)
    t.equal(auth.searchParams.get('code_challenge_method'), 'S256')
    t.equal(auth.searchParams.get('scope'), 'read:user user:email')
    const { stoppedAt } = await new BrowserStandIn().go(s.location, stopAt)
    const cb = await callback(app, stoppedAt ?? '', s.cookie)
    t.equal(cb.statusCode, 302, cb.body)
    const res = await exchange(app, holoCode(cb))
    t.equal(res.statusCode, 200, res.body)
    t.match(res.json().user, { email: 'octo@example.test', username: 'octo_cat', displayName: 'The Octocat', emailVerified: true })
    id = res.json().user.id
    const identity = await deps.prisma.identity.findFirstOrThrow({ where: { userId: id } })
    t.match(identity, { provider: 'github', subject: '583231', email: 'octo@example.test', emailVerified: true })
  })

  t.test('signing in again reaches the same account', async (t) => {
    const before = await counts()
    const { url, cookie } = await signIn()
    const res = await exchange(app, holoCode(await callback(app, url, cookie)))
    t.equal(res.json().user.id, id)
    t.equal((await counts())[0], before[0])
  })

  t.test('a GitHub code used twice is refused (GitHub answers 200 with an error)', async (t) => {
    const first = await signIn()
    t.equal((await callback(app, first.url, first.cookie)).statusCode, 302)
    const s2 = await start(app, 'github')
    const replay = new URL(first.url)
    replay.searchParams.set('state', new URL(s2.location).searchParams.get('state') ?? '')
    const before = await counts()
    const res = await callback(app, replay.href, s2.cookie)
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'OAUTH_CODE_REJECTED')
    t.equal(res.json().providerError, 'bad_verification_code')
    t.same(await counts(), before)
  })

  t.test('no verified email: the takeover rule and a missing email', async (t) => {
    const existing = await register(app, { ...newAccount('gh'), email: 'mona@example.test' })
    await deps.prisma.user.update({ where: { id: existing.tokens.user.id }, data: { emailVerifiedAt: new Date() } })
    gh.as({ id: 1, login: 'mona', name: null, emails: [{ email: 'mona@example.test', primary: true, verified: false }] })
    const before = await counts()
    const a = await signIn()
    const res = await callback(app, a.url, a.cookie)
    t.equal(res.statusCode, 409)
    t.equal(res.json().code, 'OAUTH_ACCOUNT_EXISTS')
    gh.as({ id: 2, login: 'nomail', name: null, emails: [] })
    const b = await signIn()
    const none = await callback(app, b.url, b.cookie)
    t.equal(none.statusCode, 400)
    t.equal(none.json().code, 'OAUTH_EMAIL_REQUIRED')
    t.same(await counts(), before, 'nothing created')
  })

  t.test('starts and exchanges are limited per IP', async (t) => {
    const limited = await buildTestApp(t, {
      OAUTH_PROVIDERS: 'github',
      OAUTH_GITHUB_CLIENT_ID: CLIENT_ID,
      OAUTH_GITHUB_CLIENT_SECRET: CLIENT_SECRET,
      OAUTH_GITHUB_AUTHORIZE_URL: `${gh.url}/login/oauth/authorize`,
      OAUTH_GITHUB_TOKEN_URL: `${gh.url}/login/oauth/access_token`,
      OAUTH_REDIRECT_ALLOWLIST: WEB_APP,
      RATE_LIMIT_OAUTH_PER_IP: '2'
    })
    t.equal((await start(limited.app, 'github')).res.statusCode, 302)
    t.equal((await exchange(limited.app, 'x'.repeat(43))).statusCode, 400)
    const third = await start(limited.app, 'github')
    t.equal(third.res.statusCode, 429)
    t.ok(Number(third.res.headers['retry-after']) > 0)
  })

  t.test('GitHub\'s API down: 503 naming the provider, nothing created', async (t) => {
    gh.as({ id: 3, login: 'late', name: null, emails: [{ email: 'late@example.test', primary: true, verified: true }] })
    const before = await counts()
    const a = await signIn()
    gh.failApi(true)
    t.teardown(() => { gh.failApi(false) })
    const res = await callback(app, a.url, a.cookie)
    t.equal(res.statusCode, 503)
    t.equal(res.json().dependency, 'oauth:github')
    t.same(await counts(), before)
  })
})
