// The gateway's /docs page in real headless Chromium (Debian's), with the three
// services built in-process behind the real nginx gateway.
import { existsSync } from 'node:fs'
import t from 'tap'
import { chromium, type Browser } from 'playwright-core'
import { testGateway } from '@holo/infra/testing'
import { createHoloClient } from '@holo/api-client'
import { eventTypes } from '../../packages/events/src/index.js'
import { SERVICES, buildService, type ServiceName } from '../../packages/api-client/scripts/documents.js'

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p))

t.test('the docs page shows every service\'s operations without a console error', async (t) => {
  if (CHROMIUM === undefined) throw new Error('chromium not found: apt-get install -y chromium (.ci/run does it)')
  const upstreams: Partial<Record<ServiceName, string>> = {}
  const operations: Partial<Record<ServiceName, number>> = {}
  for (const name of SERVICES) {
    const { app, close } = await buildService(name)
    t.teardown(close)
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    upstreams[name] = `127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
    const doc = (await app.inject('/openapi.json')).json() as { paths: Record<string, Record<string, unknown>> }
    operations[name] = Object.values(doc.paths)
      .reduce((n, item) => n + Object.keys(item).filter((k) => k !== 'parameters').length, 0)
  }
  const gw = await testGateway(t, upstreams as Record<ServiceName, string>)

  t.test('the typed client reaches each service through the gateway', async (t) => {
    const client = createHoloClient(gw.url)
    const jwks = await client.auth.GET('/api/v1/auth/.well-known/jwks.json')
    t.equal(jwks.response.status, 200)
    t.ok(Array.isArray(jwks.data?.keys), 'typed JWKS body')
    client.setAccessToken('not-a-valid-token')
    const me = await client.auth.GET('/api/v1/auth/me')
    t.equal(me.response.status, 401)
    t.match(me.error, { status: 401, requestId: String }, 'problem+json, typed as the error branch')
    const upload = await client.file.GET('/api/v1/files/usage')
    t.equal(upload.response.status, 401, 'file service behind /api/v1/files')
  })

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic'
    ]
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  const problems: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()} (${m.location().url.replace(gw.url, '')})`)
  })
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`))
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url().replace(gw.url, '')}`)
  })
  const outside: string[] = []
  page.on('request', (r) => { if (!r.url().startsWith(gw.url) && !r.url().startsWith('data:')) outside.push(r.url()) })

  const res = await page.goto(`${gw.url}/docs/`, { waitUntil: 'load' })
  t.equal(res?.status(), 200)
  t.equal(await page.title(), 'Holo Cards API reference')

  for (const name of SERVICES) {
    const expected = operations[name] ?? 0
    t.ok(expected > 0, `${name} documents operations`)
    const blocks = page.locator(`#${name}-ui .opblock`)
    // Swagger UI renders after fetching /docs/<name>.json: wait for it, bounded.
    await page.waitForFunction(
      ([sel, n]) => document.querySelectorAll(sel as string).length >= (n as number),
      [`#${name}-ui .opblock`, expected] as const,
      { timeout: 20_000 }
    )
    t.equal(await blocks.count(), expected, `${name}: all ${expected} operations shown`)
    t.match(await page.locator(`#${name}-ui .info .title`).innerText(), /Holo Cards/, `${name}: title shown`)
  }
  await page.waitForSelector('#events-ui table.holo-events', { timeout: 20_000 })
  t.equal(await page.locator('#events-ui table.holo-events tbody tr').count(), eventTypes.length,
    'the event catalogue (AsyncAPI, from the audit service): a row per event type')
  t.match(await page.locator('#events-ui').innerText(), /holo\.card\.liked\.v1/)
  const firstPath = await page.locator('#auth-ui .opblock-summary-path').first().innerText()
  t.match(firstPath, /^\/api\/v1\/auth\//, 'auth paths shown as the gateway serves them')
  t.same(problems, [], 'no console errors, page errors or failed requests')
  t.same(outside, [], 'nothing fetched from outside the gateway (no CDN)')
})
