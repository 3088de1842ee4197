// Social sign-in end to end, in a real Chromium (Debian's) through the real nginx gateway: the auth service built
// in-process on a fresh database, the local OpenID provider (infra/src/dev-oidc.ts, the real oidc-provider) with
// its own login page. Open the start URL, log in on the provider's page, land on the redirect with a code,
// exchange it, call /me, as a web client on the gateway's origin would.
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import t from 'tap'
import { chromium } from 'playwright-core'
import { freePort, testDatabase, testGateway, testRedisUrl, testStreamPrefix } from '@holo/infra/testing'
import { DEV_USER, startDevOidc } from '../../infra/src/dev-oidc.js'
import { createService } from '../../packages/api-client/scripts/services.js'
import { LogCapture } from './helpers.js'

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p))

t.test('sign in with the dev provider in Chromium through the gateway', async (t) => {
  if (CHROMIUM === undefined) throw new Error('chromium not found: apt-get install -y chromium (.ci/run does it)')
  // Each needs the other's address: the gateway's port is chosen first (the auth service's PUBLIC_URL).
  const gwPort = await freePort()
  const authPort = await freePort()
  const gwUrl = `http://127.0.0.1:${gwPort}`
  const dev = await startDevOidc({ redirectUris: [`${gwUrl}/api/v1/auth/oauth/dev/callback`] })
  t.teardown(dev.close)
  const db = await testDatabase(t)
  const logs = new LogCapture()
  const auth = await createService('auth', {
    LOG_LEVEL: 'info',
    DATABASE_URL: db.urlFor('auth'),
    REDIS_URL: testRedisUrl(),
    EVENTS_STREAM_PREFIX: testStreamPrefix(t),
    RATE_LIMIT_NAMESPACE: `e2e:${randomUUID()}:`,
    PUBLIC_URL: gwUrl,
    SMTP_URL: 'smtp://127.0.0.1:9',
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_TIME_COST: '1',
    OAUTH_PROVIDERS: 'dev',
    OAUTH_DEV_ISSUER: dev.issuer,
    OAUTH_DEV_CLIENT_ID: dev.clientId,
    OAUTH_DEV_CLIENT_SECRET: dev.clientSecret
  }, { logStream: logs })
  t.teardown(auth.close)
  await auth.app.listen({ host: '127.0.0.1', port: authPort })
  const closed = `127.0.0.1:${await freePort()}`
  const gw = await testGateway(t, { auth: `127.0.0.1:${authPort}`, card: closed, file: closed }, { port: gwPort })
  t.equal(gw.url, gwUrl)

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'
    ]
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  const visited: string[] = []
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) visited.push(f.url()) })

  // The sign-in screen lists the provider.
  const listed = await page.request.get(`${gwUrl}/api/v1/auth/oauth/providers`)
  t.match(await listed.json(), { items: [{ key: 'dev', startUrl: '/api/v1/auth/oauth/dev/start' }] })

  const landing = `${gwUrl}/docs/`
  await page.goto(`${gwUrl}/api/v1/auth/oauth/dev/start?redirectTo=${encodeURIComponent(landing)}`)
  t.equal(new URL(page.url()).origin, dev.issuer, 'the start URL led to the provider')
  t.match(await page.locator('h1').innerText(), /Holo dev provider/, 'the provider\'s own login page')

  await page.fill('#email', DEV_USER.email)
  await page.fill('#password', 'not-the-password')
  await page.click('#sign-in')
  t.match(await page.locator('[role=alert]').innerText(), /Wrong email or password/, 'a wrong password stays there')
  await page.fill('#email', DEV_USER.email)
  await page.fill('#password', DEV_USER.password)
  await Promise.all([page.waitForURL((u) => u.href.startsWith(landing), { timeout: 20_000 }), page.click('#sign-in')])

  const landed = new URL(page.url())
  t.equal(`${landed.origin}${landed.pathname}`, landing, 'landed on redirectTo')
  t.same([...landed.searchParams.keys()], ['code'], 'with the Holo code and nothing else')
  t.ok(visited.some((u) => u.startsWith(`${gwUrl}/api/v1/auth/oauth/dev/callback`)) ||
    logs.lines.some((l) => l.route === '/api/v1/auth/oauth/:provider/callback' && l.status === 302),
  'the callback went through the gateway to the auth service')
  for (const u of visited) t.notMatch(u, /access_?token|refresh_?token|id_token/i, `no token in a URL: ${u.slice(0, 60)}`)

  // The web client, on the gateway's origin, exchanges the code and calls /me.
  const result = await page.evaluate(async (code) => {
    const ex = await fetch('/api/v1/auth/oauth/exchange', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code })
    })
    const tokens = await ex.json() as { accessToken: string, user: { email: string } }
    const me = await fetch('/api/v1/auth/me', { headers: { authorization: `Bearer ${tokens.accessToken}` } })
    const again = await fetch('/api/v1/auth/oauth/exchange', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code })
    })
    return { exchange: ex.status, me: me.status, body: await me.json() as Record<string, unknown>, again: again.status }
  }, landed.searchParams.get('code') ?? '')
  t.equal(result.exchange, 200, 'exchanged')
  t.equal(result.me, 200, '/me with the new access token')
  t.match(result.body, { email: DEV_USER.email, username: 'dev', emailVerified: true })
  t.equal(result.again, 400, 'the code was single use')

  // Secrets stay out of the auth service's log: the Holo code (only in the redirect's Location), the client
  // secret and the tokens. (The provider's own one-time code and state appear in the access line of the callback
  // URL until the kit's redaction covers them; both are spent by then.)
  const logged = JSON.stringify(logs.lines)
  const holo = landed.searchParams.get('code') ?? ''
  t.ok(holo.length > 20 && !logged.includes(holo), 'the Holo code is not logged')
  t.notOk(logged.includes(dev.clientSecret), 'the client secret is not logged')
  t.notOk(/"(accessToken|refreshToken|idToken|id_token|access_token)"\s*:\s*"[^[]/.test(logged), 'no token in the log')
})
