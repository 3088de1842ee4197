// Social sign-in figures against the local OpenID provider of `npm start` (the `dev` provider):
//
//   1. complete sign-ins per second through the gateway: start → the provider's login page → its login POST →
//      the callback → POST /oauth/exchange, each as a new browser (no provider session), CONCURRENCY at a time;
//      with password logins per second through the same gateway in the same run as the baseline;
//   2. the callback's latency in the auth service alone (requests sent to the service's own port): p50/p99, next
//      to GET /health/live on the same port in the same run. The callback's time includes its one round trip to
//      the provider's token endpoint (the JWKS and discovery are cached after the first sign-in).
//
//   npm start   # in another terminal; the stack prints the dev provider's user
//   pnpm exec tsx --conditions=holo-source services/auth/bench/oauth.ts
//
// GATEWAY_URL (http://127.0.0.1:8080), AUTH_URL (http://127.0.0.1:3001), BENCH_SECONDS (10), BENCH_CONCURRENCY (8),
// BENCH_CALLBACKS (200), BENCH_CALLBACK_CONCURRENCY (4), DEV_EMAIL / DEV_PASSWORD (dev@holo.test / dev-password). Only loopback targets.
// Raise the stack's limits for the load: RATE_LIMIT_LOGIN_PER_IP=100000 RATE_LIMIT_OAUTH_PER_IP=100000 npm start.
import { BrowserStandIn } from '../test/oauth-helpers.js'

const GATEWAY = process.env.GATEWAY_URL ?? 'http://127.0.0.1:8080'
const AUTH = process.env.AUTH_URL ?? 'http://127.0.0.1:3001'
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8)
const CALLBACKS = Number(process.env.BENCH_CALLBACKS ?? 200)
const CALLBACK_CONCURRENCY = Number(process.env.BENCH_CALLBACK_CONCURRENCY ?? 4)
const USER = { email: process.env.DEV_EMAIL ?? 'dev@holo.test', password: process.env.DEV_PASSWORD ?? 'dev-password' }

for (const u of [GATEWAY, AUTH]) {
  if (!/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(u)) throw new Error('loopback targets only')
}

const pct = (sorted: number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)] ?? NaN
const ms = (n: number): string => n.toFixed(1)

/** The provider's answer for one new browser: the callback URL it sends the browser to, and the binding cookie. */
/** Milliseconds spent in the provider's pages and in the auth service (start, callback, exchange), summed. */
const split = { provider: 0, auth: 0 }

async function toCallback (startOrigin: string): Promise<{ url: string, cookie: string, browser: BrowserStandIn }> {
  const browser = new BrowserStandIn()
  const t0 = performance.now()
  const landing = `${GATEWAY}/`
  const start = `${startOrigin}/api/v1/auth/oauth/dev/start?redirectTo=${encodeURIComponent(landing)}`
  const res = await fetch(start, { redirect: 'manual' })
  const cookie = (res.headers.getSetCookie()[0] ?? '').split(';')[0] ?? ''
  const location = res.headers.get('location')
  if (res.status !== 302 || location === null) throw new Error(`start: ${res.status} ${await res.text()}`)
  const t1 = performance.now()
  split.auth += t1 - t0
  const stopAt = `${GATEWAY}/api/v1/auth/oauth/dev/callback`
  const page = await browser.go(location, stopAt)
  const action = /action="([^"]+)"/.exec(page.body)?.[1]
  if (action === undefined) throw new Error(`no login form: ${page.res.status}`)
  const done = await browser.go(new URL(action, location).href, stopAt, { method: 'POST', form: USER })
  if (done.stoppedAt === null) throw new Error(`the provider did not return: ${done.res.status}`)
  split.provider += performance.now() - t1
  return { url: done.stoppedAt, cookie, browser }
}

async function callback (origin: string, url: string, cookie: string): Promise<string> {
  const u = new URL(url)
  const res = await fetch(`${origin}${u.pathname}${u.search}`, { redirect: 'manual', headers: { cookie } })
  const location = res.headers.get('location')
  if (res.status !== 302 || location === null) throw new Error(`callback: ${res.status} ${await res.text()}`)
  return new URL(location).searchParams.get('code') ?? ''
}

async function exchange (origin: string, code: string): Promise<void> {
  const res = await fetch(`${origin}/api/v1/auth/oauth/exchange`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code })
  })
  if (res.status !== 200) throw new Error(`exchange: ${res.status} ${await res.text()}`)
  await res.arrayBuffer()
}

/** Runs `one` with CONCURRENCY workers for SECONDS; returns completions per second and latencies. */
async function load (one: () => Promise<void>): Promise<{ perSecond: number, p50: number, p99: number, errors: number }> {
  const until = Date.now() + SECONDS * 1000
  const times: number[] = []
  let errors = 0
  const began = performance.now()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < until) {
      const t0 = performance.now()
      try { await one(); times.push(performance.now() - t0) } catch { errors++ }
    }
  }))
  const elapsed = (performance.now() - began) / 1000
  times.sort((a, b) => a - b)
  return { perSecond: times.length / elapsed, p50: pct(times, 50), p99: pct(times, 99), errors }
}

async function timed (n: number, concurrency: number, one: () => Promise<number>): Promise<number[]> {
  const out: number[] = []
  let left = n
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (left-- > 0) out.push(await one())
  }))
  return out.sort((a, b) => a - b)
}

async function main (): Promise<void> {
  // Warm up: discovery and the JWKS are fetched once.
  const w = await toCallback(GATEWAY)
  await exchange(GATEWAY, await callback(GATEWAY, w.url, w.cookie))

  split.provider = 0
  split.auth = 0
  const signIns = await load(async () => {
    const c = await toCallback(GATEWAY)
    const t0 = performance.now()
    await exchange(GATEWAY, await callback(GATEWAY, c.url, c.cookie))
    split.auth += performance.now() - t0
  })
  const providerShare = split.provider / (split.provider + split.auth)
  const logins = await load(async () => {
    const res = await fetch(`${GATEWAY}/api/v1/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@holo.local', password: process.env.ADMIN_PASSWORD ?? 'holo-dev-admin-password' })
    })
    await res.arrayBuffer()
    if (res.status !== 200) throw new Error(`login ${res.status}`)
  })

  // The callback alone, on the service's own port: the provider's part (its pages) is done before the clock starts.
  const callbacks = await timed(CALLBACKS, CALLBACK_CONCURRENCY, async () => {
    const c = await toCallback(AUTH)
    const t0 = performance.now()
    const code = await callback(AUTH, c.url, c.cookie)
    const took = performance.now() - t0
    await exchange(AUTH, code)
    return took
  })
  const health = await timed(CALLBACKS, CALLBACK_CONCURRENCY, async () => {
    const t0 = performance.now()
    const res = await fetch(`${AUTH}/health/live`)
    await res.arrayBuffer()
    return performance.now() - t0
  })

  console.log(`social sign-in benchmark, ${new Date().toISOString()}, node ${process.version}, ` +
    `${SECONDS} s per load scenario, ${CONCURRENCY} at a time`)
  console.log('| scenario | per s | p50 ms | p99 ms | errors | vs baseline |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  const row = (name: string, r: Awaited<ReturnType<typeof load>>, ratio: string): string =>
    `| ${name} | ${r.perSecond.toFixed(1)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.errors} | ${ratio} |`
  console.log(row('baseline: password login (gateway)', logins, '1.000'))
  console.log(row('social sign-in, complete (gateway)', signIns, (signIns.perSecond / logins.perSecond).toFixed(3)))
  console.log(`Time of a complete sign-in spent in the provider's pages: ${(providerShare * 100).toFixed(0)} % ` +
    `(the rest in the auth service: start, callback with its token request, exchange).`)
  console.log('')
  console.log(`| auth service alone (${CALLBACKS} requests, ${CALLBACK_CONCURRENCY} at a time) | p50 ms | p99 ms | p99 vs baseline |`)
  console.log('| --- | ---: | ---: | ---: |')
  console.log(`| baseline: GET /health/live | ${ms(pct(health, 50))} | ${ms(pct(health, 99))} | 1.0 |`)
  console.log(`| GET /oauth/dev/callback | ${ms(pct(callbacks, 50))} | ${ms(pct(callbacks, 99))} | ` +
    `${(pct(callbacks, 99) / pct(health, 99)).toFixed(1)} |`)
}

await main()
