// The GitHub adapter (OAuth 2 + PKCE + state, then GET /user and /user/emails) against a small local server
// speaking GitHub's endpoints: a STAND-IN for github.com, which this machine cannot reach. It checks what GitHub
// checks (client secret, redirect_uri, single-use codes, the PKCE verifier) and answers errors as GitHub does
// (HTTP 200 with an `error` field).
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { buildTestApp, register, newAccount } from './helper.js'
import { BrowserStandIn, callback, exchange, holoCode, PUBLIC_URL, start, WEB_APP } from './oauth-helpers.js'

interface GhAccount { id: number, login: string, name: string | null, emails: Array<{ email: string, primary: boolean, verified: boolean }> }

const CLIENT_ID = 'gh-client'
const CLIENT_SECRET = 'gh-secret'

async function githubStandIn (t: Test): Promise<{ url: string, as: (a: GhAccount) => void, failApi: (on: boolean) => void }> {
  let current: GhAccount | null = null
  let apiDown = false
  const codes = new Map<string, { account: GhAccount, challenge: string, redirectUri: string }>()
  const tokens = new Map<string, GhAccount>()
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body))
  }
  const read = async (req: IncomingMessage): Promise<string> => {
    let s = ''
    for await (const c of req) s += String(c)
    return s
  }
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
        // The user is signed in at GitHub and approves at once.
        const q = url.searchParams
        if (q.get('client_id') !== CLIENT_ID || current === null || q.get('code_challenge_method') !== 'S256') {
          res.writeHead(400).end('bad authorize request'); return
        }
        const code = randomBytes(10).toString('hex')
        codes.set(code, { account: current, challenge: q.get('code_challenge') ?? '', redirectUri: q.get('redirect_uri') ?? '' })
        const back = new URL(q.get('redirect_uri') ?? '')
        back.searchParams.set('code', code)
        back.searchParams.set('state', q.get('state') ?? '')
        res.writeHead(302, { location: back.href }).end()
        return
      }
      if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
        const form = new URLSearchParams(await read(req))
        if (form.get('client_id') !== CLIENT_ID || form.get('client_secret') !== CLIENT_SECRET) {
          json(res, 200, { error: 'incorrect_client_credentials' }); return
        }
        const grant = codes.get(form.get('code') ?? '')
        codes.delete(form.get('code') ?? '')
        const verifier = form.get('code_verifier') ?? ''
        if (grant === undefined || grant.redirectUri !== form.get('redirect_uri') ||
          createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) {
          json(res, 200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' })
          return
        }
        const token = `gho_${randomBytes(16).toString('hex')}`
        tokens.set(token, grant.account)
        json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' })
        return
      }
      const account = tokens.get((req.headers.authorization ?? '').replace(/^(Bearer|token) /i, ''))
      if (account === undefined) { json(res, 401, { message: 'Bad credentials' }); return }
      if (apiDown) { json(res, 503, { message: 'unavailable' }); return }
      if (url.pathname === '/user') {
        json(res, 200, { id: account.id, login: account.login, name: account.name, avatar_url: null, email: null }); return
      }
      if (url.pathname === '/user/emails') { json(res, 200, account.emails.map((e) => ({ ...e, visibility: null }))); return }
      json(res, 404, { message: 'Not Found' })
    })()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    as: (a) => { current = a },
    failApi: (on) => { apiDown = on }
  }
}

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
