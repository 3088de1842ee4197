// The billing service's figures (issue 14), in the service alone: billing runs as its own process (its real
// entry point) on a fresh migrated database, the local Stripe stand-in runs as another process (as Stripe is
// another machine), and this process only generates the load.
//
// - billing-webhooks: N checkout.session.completed events of N different paid checkouts, made at the stand-in
//   beforehand, are POSTed signed (Stripe-Signature, HMAC-SHA256) to /api/v1/billing/webhooks/stripe by C
//   concurrent senders. Each is verified, its PaymentIntent fetched from the stand-in (the fee), and the payment,
//   four ledger entries, the entitlement, the Stripe event id and two outbox rows committed in one transaction.
//   Rate = N / (last answer − first send). Then the same N again: every one is a repeat (duplicate answers).
//   Goal: ≥ 500 events/s.
// - billing-checkout: POST /api/v1/billing/checkout {plan: 'holo-plus'} at a fixed arrival rate (open loop:
//   request i is due at start + i / rate and its latency runs from that instant), each by a new user, so each
//   makes a Stripe customer and a Checkout Session at the stand-in (two calls) and two rows. p50, p99, max.
import { randomBytes, randomUUID } from 'node:crypto'
import path from 'node:path'
import pg from 'pg'
import { Pool } from 'undici'
import { createMigratedDatabase, dropDatabase, freePort, repoRoot, spawnTs, withDatabase, type NodeProcess } from '@holo/infra'
import { testIssuer } from '@holo/infra/testing'
import { stripeSignature } from '../../packages/stripe-standin/src/index.js'
import { deleteKeys } from './bench-stack.js'
import { clock, percentile, round2, sleep } from './measure.js'

export const BILLING_SCENARIOS = ['billing-webhooks', 'billing-checkout'] as const

export interface BillingRow {
  scenario: typeof BILLING_SCENARIOS[number]
  variant: string
  /** Webhooks: events answered 200 per second; checkout: answers per second. */
  perSec: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  count: number
  errors: number
  goal: string
  met: boolean | null
  detail: string
}

export interface BillingBenchOptions {
  /** A superuser URL of the bench's PostgreSQL server (its database name is replaced). */
  adminUrl: string
  redisUrl: string
  quick?: boolean
  /** Webhook events per variant (default 5,000; 1,000 quick). */
  events?: number
  /** Concurrent webhook senders (default 16: Stripe delivers to one endpoint in parallel). */
  concurrency?: number
  /** Checkout arrivals per second (default 50) and measured seconds (default 10; 5 quick), after 2 s of warm-up. */
  checkoutRate?: number
  checkoutSeconds?: number
  log?: (line: string) => void
  /** billing's DATABASE_POOL_SIZE (its default, 10, when unset). */
  poolSize?: number
  /** Writes a CPU profile of the billing process here (node --cpu-prof). */
  profileDir?: string
}

const SECRET_KEY = 'sk_test_bench_billing'
const WEBHOOK_SECRET = 'whsec_bench_billing'
const PLUS_PRICE = 'price_bench_holo_plus'

async function waitFor (url: string, child: NodeProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.child.exitCode !== null) throw new Error(`${url}: the process exited (${child.child.exitCode})`)
    const ok = await fetch(url).then((r) => r.status < 500).catch(() => false)
    if (ok) return
    if (Date.now() > deadline) throw new Error(`${url} did not answer in ${timeoutMs} ms`)
    await sleep(100)
  }
}

/** Runs both scenarios and returns their rows; everything it made (database, processes, keys) is gone after. */
export async function runBillingBench (o: BillingBenchOptions): Promise<BillingRow[]> {
  const log = o.log ?? ((line: string) => { process.stdout.write(`[billing-bench] ${line}\n`) })
  const cleanups: Array<() => unknown> = []
  const teardown = { teardown: (fn: () => unknown) => { cleanups.push(fn) } }
  const run = `bench_billing_${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`
  const prefix = `bench.${run}.`
  try {
    await createMigratedDatabase(withDatabase(o.adminUrl, 'postgres'), run)
    cleanups.push(async () => { await dropDatabase(withDatabase(o.adminUrl, run)) })
    const issuer = await testIssuer(teardown)
    const [standinPort, billingPort] = [await freePort(), await freePort()]
    const standin = spawnTs('src/cli.ts', path.join(repoRoot, 'packages/stripe-standin'), {
      ...process.env,
      STRIPE_STANDIN_PORT: String(standinPort),
      STRIPE_SECRET_KEY: SECRET_KEY,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_HOLO_PLUS_PRICE: PLUS_PRICE,
      STRIPE_WEBHOOK_URL: ''
    }, ['ignore', 'ignore', 'inherit'])
    cleanups.push(() => standin.stop())
    const billingUrl = `http://127.0.0.1:${billingPort}`
    const dbUrl = new URL(withDatabase(o.adminUrl, run))
    dbUrl.username = 'holo_billing'
    dbUrl.password = ''
    const billing = spawnTs('src/server.ts', path.join(repoRoot, 'services/billing'), {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      PORT: String(billingPort),
      ...(o.poolSize === undefined ? {} : { DATABASE_POOL_SIZE: String(o.poolSize) }),
      DATABASE_URL: dbUrl.toString(),
      REDIS_URL: o.redisUrl,
      AUTH_JWKS_URL: issuer.jwksUrl,
      AUTH_ISSUER: issuer.issuer,
      EVENTS_STREAM_PREFIX: prefix,
      STRIPE_API_URL: `http://127.0.0.1:${standinPort}`,
      STRIPE_SECRET_KEY: SECRET_KEY,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_HOLO_PLUS_PRICE: PLUS_PRICE,
      CARD_SERVICE_URL: 'http://127.0.0.1:9'
    }, ['ignore', 'ignore', 'inherit'], o.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`])
    cleanups.push(() => billing.stop())
    cleanups.push(() => deleteKeys(o.redisUrl, `${prefix}*`))
    await waitFor(`http://127.0.0.1:${standinPort}/v1/none`, standin)
    await waitFor(`${billingUrl}/health/ready`, billing)

    const rows: BillingRow[] = []
    rows.push(...await webhooks(o, `http://127.0.0.1:${standinPort}`, billingUrl, dbUrl.toString(), log))
    rows.push(await checkouts(o, billingUrl, (sub) => issuer.token({ sub, roles: ['user'] }), log))
    return rows
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => {})
  }
}

async function stripeCall (standin: string, method: string, p: string, form?: URLSearchParams): Promise<any> {
  const res = await fetch(`${standin}${p}`, {
    method,
    headers: { authorization: `Bearer ${SECRET_KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: form?.toString()
  })
  const body = await res.json() as any
  if (res.status !== 200) throw new Error(`stand-in ${method} ${p}: ${res.status} ${JSON.stringify(body)}`)
  return body
}

/** N paid template checkouts at the stand-in (undelivered): their checkout.session.completed payloads. */
async function paidEvents (standin: string, n: number): Promise<string[]> {
  const batch = 32
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, async () => {
      const meta: Record<string, string> = {
        holoCheckoutId: randomUUID(), userId: randomUUID(), product: 'template', templateId: randomUUID(), authorId: randomUUID()
      }
      const form = new URLSearchParams({
        mode: 'payment',
        success_url: 'http://127.0.0.1/ok',
        cancel_url: 'http://127.0.0.1/cancel',
        'line_items[0][quantity]': '1',
        'line_items[0][price_data][currency]': 'eur',
        'line_items[0][price_data][unit_amount]': '499',
        'line_items[0][price_data][product_data][name]': 'Bench template'
      })
      for (const [k, v] of Object.entries(meta)) {
        form.set(`metadata[${k}]`, v)
        form.set(`payment_intent_data[metadata][${k}]`, v)
      }
      const session = await stripeCall(standin, 'POST', '/v1/checkout/sessions', form)
      const paid = await fetch(`${standin}/c/pay/${session.id as string}/confirm`, { method: 'POST', redirect: 'manual' })
      if (paid.status !== 303) throw new Error(`paying ${session.id as string}: ${paid.status}`)
    }))
  }
  const payloads: string[] = []
  let after: string | undefined
  while (payloads.length < n) {
    const q = new URLSearchParams({ type: 'checkout.session.completed', limit: '100' })
    if (after !== undefined) q.set('starting_after', after)
    const page = await stripeCall(standin, 'GET', `/v1/events?${q.toString()}`)
    for (const e of page.data as Array<{ id: string }>) payloads.push(JSON.stringify(e))
    after = (page.data as Array<{ id: string }>).at(-1)?.id
    if (page.has_more !== true) break
  }
  return payloads
}

async function webhooks (
  o: BillingBenchOptions, standin: string, billingUrl: string, dbUrl: string, log: (line: string) => void
): Promise<BillingRow[]> {
  const n = o.events ?? (o.quick === true ? 1000 : 5000)
  const concurrency = o.concurrency ?? 16
  log(`making ${n} paid checkouts at the stand-in`)
  const payloads = await paidEvents(standin, n)
  const pool = new Pool(billingUrl, { connections: concurrency, pipelining: 1 })
  const send = async (variant: string, expect: 'applied' | 'duplicate'): Promise<BillingRow> => {
    const latencies: number[] = []
    let errors = 0
    let next = 0
    const start = clock()
    await Promise.all(Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < payloads.length; i = next++) {
        const payload = payloads[i] as string
        const t0 = clock()
        const res = await pool.request({
          method: 'POST',
          path: '/api/v1/billing/webhooks/stripe',
          headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(payload, WEBHOOK_SECRET) },
          body: payload
        }).catch(() => undefined)
        if (res === undefined) { errors++; continue }
        const body = await res.body.json().catch(() => ({})) as { outcome?: string }
        latencies.push(clock() - t0)
        if (res.statusCode !== 200 || body.outcome !== expect) errors++
      }
    }))
    const elapsed = (clock() - start) / 1000
    latencies.sort((a, b) => a - b)
    const perSec = round2((payloads.length - errors) / elapsed)
    return {
      scenario: 'billing-webhooks',
      variant,
      perSec,
      p50Ms: round2(percentile(latencies, 50)),
      p99Ms: round2(percentile(latencies, 99)),
      maxMs: round2(latencies.at(-1) ?? 0),
      count: payloads.length,
      errors,
      goal: '≥ 500 events/s',
      met: errors === 0 && perSec >= 500,
      detail: `${payloads.length} events, ${concurrency} concurrent senders, ${round2(elapsed)} s`
    }
  }
  try {
    const fresh = await send('checkout.session.completed, each a new payment', 'applied')
    const client = new pg.Client({ connectionString: dbUrl })
    await client.connect()
    const counted = await client.query<{ payments: string, entries: string }>(
      'SELECT (SELECT count(*) FROM payments) AS payments, (SELECT count(*) FROM ledger_entries) AS entries')
    await client.end()
    const row = counted.rows[0]
    if (Number(row?.payments) !== n || Number(row?.entries) !== 4 * n) {
      fresh.errors += Math.abs(n - Number(row?.payments))
      fresh.met = false
      fresh.detail += `; ${row?.payments ?? '?'} payments and ${row?.entries ?? '?'} ledger entries recorded (expected ${n}, ${4 * n})`
    }
    log(`webhooks: ${fresh.perSec} events/s, p99 ${fresh.p99Ms} ms, ${fresh.errors} errors`)
    const repeats = await send('the same events again (repeats)', 'duplicate')
    log(`repeats: ${repeats.perSec} events/s, p99 ${repeats.p99Ms} ms, ${repeats.errors} errors`)
    return [fresh, repeats]
  } finally {
    await pool.close()
  }
}

async function checkouts (
  o: BillingBenchOptions, billingUrl: string, token: (sub: string) => string, log: (line: string) => void
): Promise<BillingRow> {
  const rate = o.checkoutRate ?? 50
  const seconds = o.checkoutSeconds ?? (o.quick === true ? 5 : 10)
  const warmup = 2
  const total = (warmup + seconds) * rate
  const tokens = Array.from({ length: total }, () => token(randomUUID()))
  const pool = new Pool(billingUrl, { connections: 64, pipelining: 1 })
  const latencies: number[] = []
  let errors = 0
  const samples = new Set<string>()
  const start = clock() + 100
  const inflight: Array<Promise<void>> = []
  try {
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / rate
      const wait = due - clock()
      if (wait > 1) await sleep(wait)
      const measured = i >= warmup * rate
      inflight.push(pool.request({
        method: 'POST',
        path: '/api/v1/billing/checkout',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[i] as string}` },
        body: '{"plan":"holo-plus"}'
      }).then(async (res) => {
        const body = await res.body.text()
        if (!measured) return
        if (res.statusCode !== 200) { errors++; samples.add(`${res.statusCode} ${body.slice(0, 120)}`); return }
        latencies.push(clock() - due)
      }, (err: unknown) => { if (measured) { errors++; samples.add((err as Error).message) } }))
    }
    await Promise.all(inflight)
  } finally {
    await pool.close()
  }
  latencies.sort((a, b) => a - b)
  const row: BillingRow = {
    scenario: 'billing-checkout',
    variant: `holo-plus, a new customer each, ${rate}/s open loop`,
    perSec: round2(latencies.length / seconds),
    p50Ms: round2(percentile(latencies, 50)),
    p99Ms: round2(percentile(latencies, 99)),
    maxMs: round2(latencies.at(-1) ?? 0),
    count: latencies.length,
    errors,
    goal: 'p99 reported (no goal in the issue)',
    met: null,
    detail: `${seconds} s measured after ${warmup} s; each checkout makes a Stripe customer and a Checkout Session` +
      (samples.size > 0 ? `; errors: ${[...samples].slice(0, 3).join(' | ')}` : '')
  }
  log(`checkout: p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, ${row.errors} errors`)
  return row
}

/** `node --conditions=holo-source --import tsx bench/lib/billing-bench.ts [--quick]`: the figures alone. */
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const rows = await runBillingBench({
    adminUrl: process.env.DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    quick: process.argv.includes('--quick'),
    concurrency: process.env.BILLING_BENCH_CONCURRENCY === undefined ? undefined : Number(process.env.BILLING_BENCH_CONCURRENCY),
    poolSize: process.env.BILLING_BENCH_POOL === undefined ? undefined : Number(process.env.BILLING_BENCH_POOL),
    profileDir: process.env.BILLING_BENCH_PROFILE_DIR
  })
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`)
  process.exit(0)
}
