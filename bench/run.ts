// `pnpm bench`: the load-test suite. Starts an isolated stack, seeds its own
// data, runs each scenario directly against its service and through the
// gateway, measures two baselines in the same run, and writes
// bench/results/latest.{json,md}. Not part of `npm test`.
//
//   pnpm bench [--quick] [--duration S] [--warmup S]
//              [--profile card,...]  (V8 CPU profiles to bench/results/profiles) [--connections N] [--cards N]
//              [--scenarios a,b,...] [--targets direct,gateway]
//              [--streams N]  (notification-idle-streams: how many; default 10,000, 1,000 with --quick)
//              [--like-rate N]  (notification-delivery: likes per second; default 200, the goal's rate)
//              [--before DIR] [--ab-rounds N]  (the card scenarios marked compareBefore also against DIR's card service)
//
// The event bus's scenarios (events-throughput, events-latency: lib/events-bench.ts) and the live notifications'
// (notification-delivery, notification-idle-streams: lib/notification-bench.ts) and billing's (billing-webhooks,
// billing-checkout: lib/billing-bench.ts) run after the HTTP ones.
// --before DIR (or BENCH_BEFORE_DIR) names an installed checkout of an earlier commit (c0d4de9, before the events
// were wired; see README): its card service runs beside the current one on the same data, and card-create, like and
// card-get-cached run against both, directly, N rounds in alternating order (default 2), each as a ratio.
//
// Closed-loop scenarios run on autocannon; the fixed-rate ones (a scenario's `rate`) on the open-loop generator
// in lib/open-loop.ts, which autocannon's per-second quotas cannot stand in for.
import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { startBenchStack } from './lib/bench-stack.js'
import { login, makeImages, registerUsers, renewTokens, seedCards, uploadFiles, vacuum } from './lib/seed.js'
import { scenarios, type BenchData, type Scenario, type ScenarioRun, type Target } from './lib/scenarios.js'
import { openLoop } from './lib/open-loop.js'
import { describeKinds, describeOpenLoop, renderMarkdown, type Row } from './lib/report.js'
import { EVENT_SCENARIOS, runEventScenarios, type EventsRow } from './lib/events-bench.js'
import { NOTIFICATION_SCENARIOS, runNotificationScenarios, type NotificationRow } from './lib/notification-bench.js'
import { BILLING_SCENARIOS, runBillingBench, type BillingRow } from './lib/billing-bench.js'
import { CpuMeter, describeCpu, type CpuSnapshot } from './lib/cpu.js'

const USAGE = `pnpm bench [--quick] [--duration S] [--warmup S] [--connections N] [--cards N]
           [--scenarios a,b,...] [--targets direct,gateway] [--streams N] [--like-rate N]
           [--profile card,...] [--before DIR] [--ab-rounds N]
scenarios: ${[...scenarios.map((s) => s.name), ...EVENT_SCENARIOS, ...NOTIFICATION_SCENARIOS, ...BILLING_SCENARIOS].join(', ')}
(bench/run.ts's opening comment says what each option does)`

const { values: flags } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h', default: false },
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    profile: { type: 'string' },
    connections: { type: 'string' },
    cards: { type: 'string' },
    scenarios: { type: 'string' },
    targets: { type: 'string', default: 'direct,gateway' },
    before: { type: 'string' },
    'ab-rounds': { type: 'string' },
    streams: { type: 'string' },
    'like-rate': { type: 'string' }
  }
})
if (flags.help === true) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(0)
}
const quick = flags.quick === true
const duration = Number(flags.duration ?? (quick ? 3 : 10))
const warmup = Number(flags.warmup ?? (quick ? 1 : 3))
const connections = Number(flags.connections ?? 50)
const cardCount = Number(flags.cards ?? (quick ? 5_000 : 100_000))
const SPECIAL_SCENARIOS: readonly string[] = [...EVENT_SCENARIOS, ...NOTIFICATION_SCENARIOS, ...BILLING_SCENARIOS]
const selected = flags.scenarios?.split(',') ?? [...scenarios.map((s) => s.name), ...SPECIAL_SCENARIOS]
const unknown = selected.filter((x) => !scenarios.some((s) => s.name === x) && !SPECIAL_SCENARIOS.includes(x))
if (unknown.length > 0) throw new Error(`unknown scenarios: ${unknown.join(', ')}`)
const beforeDir = flags.before ?? process.env.BENCH_BEFORE_DIR
const abRounds = Number(flags['ab-rounds'] ?? 2)
const beforeCommit = beforeDir === undefined
  ? undefined
  : execFileSync('git', ['-C', beforeDir, 'log', '-1', '--format=%h'], { encoding: 'utf8' }).trim()
const targets = (flags.targets ?? 'direct,gateway').split(',') as Target[]
/** The bench stack's bootstrap administrator (its own database, never a real one). */
const BENCH_ADMIN = { email: 'bench-admin@holo.bench', password: 'bench admin passphrase' }
const log = (msg: string): void => { process.stdout.write(`[bench] ${msg}\n`) }

const here = path.dirname(fileURLToPath(import.meta.url))
const started = new Date()
const big = 1_000_000_000
const stack = await startBenchStack({
  adminBaseUrl: process.env.DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
  database: process.env.BENCH_DATABASE ?? 'holo_bench',
  log,
  beforeDir,
  profile: flags.profile === undefined ? undefined : { services: flags.profile.split(','), dir: path.join(here, 'results', 'profiles') },
  env: {
    // Load from one IP and a few accounts: the abuse limits would stop it, so
    // the bench raises them; everything else runs as configured.
    auth: { BOOTSTRAP_ADMIN_EMAIL: BENCH_ADMIN.email, BOOTSTRAP_ADMIN_PASSWORD: BENCH_ADMIN.password, RATE_LIMIT_LOGIN_PER_IP: String(big), RATE_LIMIT_LOGIN_PER_ACCOUNT: String(big), RATE_LIMIT_REGISTER_PER_IP: String(big), RATE_LIMIT_NAMESPACE: `bench:${Date.now()}:` },
    card: {},
    file: { FILE_QUOTA_BYTES: String(1024 ** 4) }
  }
})
// Each scenario's CPU per request, by part of the stack (lib/cpu.ts); the load generator is this process.
const cpuMeter = new CpuMeter({
  pids: { ...stack.pids, 'load generator': process.pid },
  adminUrl: stack.adminUrl,
  database: process.env.BENCH_DATABASE ?? 'holo_bench',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
})

const rows: Row[] = []
const asUser = { id: '', accessToken: '', refreshToken: '' }
let eventRows: EventsRow[] = []
let notificationRows: NotificationRow[] = []
let billingRows: BillingRow[] = []
let cardsInTable = 0
try {
  const runId = Date.now().toString(36)
  const chosen = scenarios.filter((x) => selected.includes(x.name))
  const needs = new Set(chosen.flatMap((x) => [x.service, ...(x.uses ?? [])]))
  const notificationSelected = selected.some((x) => (NOTIFICATION_SCENARIOS as readonly string[]).includes(x))
  // The live-delivery scenarios like seeded cards and stream as seeded users.
  if (notificationSelected) { needs.add('card'); needs.add('notification') }
  const needsUsers = [...needs].some((n) => n !== undefined && n !== 'baseline')
  log('seeding: users')
  const users = needsUsers ? await registerUsers(stack.direct.auth, quick ? 20 : 50, runId) : []
  let tokensAt = Date.now()
  log(`seeding: ${needs.has('card') ? cardCount : 0} cards`)
  // The table keeps what earlier runs' create scenarios added: the report gives the real count.
  const seeded = needs.has('card') ? await seedCards(stack.adminUrl, users.map((u) => u.id), cardCount) : { ids: [], count: 0 }
  const cardIds = seeded.ids
  cardsInTable = seeded.count
  log('seeding: files')
  const fileIds = needs.has('file') ? await uploadFiles(stack.direct.file, (users[0] as { accessToken: string }).accessToken, await makeImages(quick ? 20 : 100, 100 * 1024)) : []
  const uploads = selected.includes('file-upload-100k') ? await makeImages(quick ? 400 : 2000, 100 * 1024) : []
  const adminToken = needs.has('audit')
    ? (await login(stack.direct.auth, { ...asUser, ...BENCH_ADMIN })).accessToken
    : ''
  const data: BenchData = { users, refreshTokens: [], cardIds, hotCardId: cardIds[0] ?? '', fileIds, uploads, adminToken }

  for (const s of chosen) {
    for (const target of targets) {
      if (target === 'direct' && s.service === undefined) {
        log(`${s.name}: gateway only`)
        continue
      }
      if (target === 'gateway' && s.name === 'baseline-fastify-redis' && !targets.includes('gateway')) continue
      const base = target === 'gateway' ? stack.gatewayUrl : s.service === 'baseline' ? stack.baselineDirectUrl : stack.direct[s.service as 'auth']
      if (s.name === 'refresh') {
        // One fresh chain per connection (plus spares), made by real logins.
        data.refreshTokens = []
        for (let i = 0; i < connections * 2; i++) data.refreshTokens.push((await login(stack.direct.auth, users[i % users.length] as never)).refreshToken)
      }
      if (target === 'direct' && s.compareBefore === true && stack.beforeCardUrl !== undefined) {
        // Before and after in turns, the order swapped each round, so neither always runs on a warmer table.
        for (let round = 1; round <= abRounds; round++) {
          const order: Target[] = round % 2 === 1 ? ['direct', 'before'] : ['before', 'direct']
          for (const t of order) await measure(s, t, t === 'before' ? stack.beforeCardUrl : base, round)
        }
        continue
      }
      await measure(s, target, base)
    }
  }
  if (notificationSelected) {
    if (Date.now() - tokensAt > 5 * 60_000) await renewTokens(stack.direct.auth, users)
    notificationRows = await runNotificationScenarios({
      gatewayUrl: stack.gatewayUrl,
      redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      streamPrefix: stack.streamPrefix,
      notificationPid: stack.pids.notification ?? 0,
      users,
      selected,
      quick,
      duration,
      streams: flags.streams === undefined ? undefined : Number(flags.streams),
      likeRate: flags['like-rate'] === undefined ? undefined : Number(flags['like-rate']),
      cpu: cpuMeter,
      log
    })
  }
  if (selected.some((x) => (BILLING_SCENARIOS as readonly string[]).includes(x))) {
    // Its own billing service and Stripe stand-in on a database of its own (lib/billing-bench.ts).
    billingRows = await runBillingBench({
      adminUrl: stack.adminUrl, redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', quick, log
    })
  }
  if (selected.some((x) => (EVENT_SCENARIOS as readonly string[]).includes(x))) {
    eventRows = await runEventScenarios({
      adminUrl: stack.adminUrl,
      redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      selected,
      quick,
      duration,
      warmup,
      log
    })
  }

  async function measure (s: Scenario, target: Target, base: string, round?: number): Promise<void> {
    // Each scenario starts on a vacuumed database, as autovacuum would keep it (off on these machines: seed.ts).
    const vacuumMs = await vacuum(stack.adminUrl)
    if (vacuumMs > 1000) log(`vacuum before ${s.name}: ${vacuumMs} ms`)
    if (Date.now() - tokensAt > 10 * 60_000) {
      await renewTokens(stack.direct.auth, users)
      tokensAt = Date.now()
    }
    const run = s.requests(data)
    const row = s.rate === undefined
      ? await closedLoop(s, target, base, run)
      : await fixedRate(s, target, base, run, s.rate)
    if (round !== undefined) row.round = round
    rows.push(row)
    const label = round === undefined ? target : `${target} #${round}`
    log(`${s.name.padEnd(24)} ${label.padEnd(10)} ${String(row.requestsPerSec).padStart(7)} req/s  p50 ${row.p50Ms} ms  p99 ${row.p99Ms} ms  errors ${row.errors}  non2xx ${row.non2xx}`)
    if (row.byKind !== undefined) log(`  by kind: ${describeKinds(row.byKind)}`)
    if (row.openLoop !== undefined) log(`  open loop: ${describeOpenLoop(row)}`)
    if (row.cpuMsPerRequest !== undefined) log(`  CPU per request: ${describeCpu(row.cpuMsPerRequest)}`)
  }
} finally {
  await stack.stop()
}

/** autocannon: `connections` each send their next request as soon as the last is answered. */
async function closedLoop (s: Scenario, target: Target, base: string, run: ScenarioRun): Promise<Row> {
  const { path: fixedPath, requests, tally } = run
  const options = { url: `${base}${fixedPath ?? ''}`, connections, requests }
  // Unmeasured warm-up first: V8 optimises the hot paths, pools and keep-alive connections fill.
  if (warmup > 0) await autocannon({ ...options, duration: warmup })
  tally?.reset()
  const cpuBefore = process.cpuUsage()
  const stackBefore = await cpuMeter.start()
  const t0 = performance.now()
  const result = await autocannon({ ...options, duration })
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpuBefore)
  const cpuMsPerRequest = await cpuMeter.perRequest(stackBefore, result.requests.total)
  return {
    scenario: s.name,
    target,
    baseline: s.baseline,
    requestsPerSec: Math.round(result.requests.average),
    latencyAvgMs: result.latency.average,
    p50Ms: result.latency.p50,
    p975Ms: result.latency.p97_5,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    loadGeneratorCpuPct: Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 100),
    byKind: tally?.summary(),
    cpuMsPerRequest
  }
}

/**
 * The open-loop generator (lib/open-loop.ts) at `rate` req/s, evenly spaced, over a pool of `connections`; the
 * warm-up runs at the same rate straight into the measured part, so the arrivals stay steady across the boundary.
 */
async function fixedRate (s: Scenario, target: Target, base: string, run: ScenarioRun, rate: number): Promise<Row> {
  if (run.next === undefined) throw new Error(`${s.name}: a fixed rate needs a run that draws its requests (next)`)
  let stackBefore: Promise<CpuSnapshot> | undefined
  const r = await openLoop({
    origin: new URL(base).origin,
    rate,
    warmupS: warmup,
    durationS: duration,
    connections,
    next: run.next,
    tally: run.tally,
    onMeasured: () => { stackBefore = cpuMeter.start() }
  })
  const cpuMsPerRequest = stackBefore === undefined ? undefined : await cpuMeter.perRequest(await stackBefore, r.answered)
  return {
    scenario: s.name,
    target,
    baseline: s.baseline,
    requestsPerSec: r.requestsPerSec,
    latencyAvgMs: r.latency.average,
    p50Ms: r.latency.p50,
    p975Ms: r.latency.p97_5,
    p99Ms: r.latency.p99,
    requests: r.answered,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    loadGeneratorCpuPct: r.cpuPct,
    rate,
    openLoop: {
      sent: r.sent,
      dropped: r.dropped,
      maxInFlight: r.maxInFlight,
      sendLagP99Ms: r.sendLag.p99,
      sendLagMaxMs: r.sendLag.max,
      errorSamples: r.errorSamples
    },
    byKind: run.tally?.summary(),
    cpuMsPerRequest
  }
}

// Ratios: every scenario against the matching baseline of the same target, same run.
for (const r of rows) {
  const baseName = r.baseline === 'nginx-static' ? 'baseline-nginx-static' : 'baseline-fastify-redis'
  // The before checkout's card service is measured directly: against the direct baseline.
  const target = r.target === 'before' ? 'direct' : r.target
  const b = rows.find((x) => x.scenario === baseName && (x.target === target || baseName === 'baseline-nginx-static'))
  r.ratioToBaseline = b !== undefined && b.requestsPerSec > 0 ? Number((r.requestsPerSec / b.requestsPerSec).toPrecision(2)) : undefined
}
// The mixes also against the pure cached card read through the gateway: what the write mix costs the caches.
const cached = rows.find((x) => x.scenario === 'card-get-cached' && x.target === 'gateway')
for (const r of rows.filter((x) => x.byKind !== undefined)) {
  if (cached !== undefined && cached.requestsPerSec > 0) {
    r.ratioToCardGetCached = Number((r.requestsPerSec / cached.requestsPerSec).toPrecision(2))
  }
}

// After against before, round by round (same scenario, same run, alternating order).
for (const r of rows.filter((x) => x.target === 'direct' && x.round !== undefined)) {
  const b = rows.find((x) => x.target === 'before' && x.scenario === r.scenario && x.round === r.round)
  if (b !== undefined && b.requestsPerSec > 0) r.ratioToBefore = Number((r.requestsPerSec / b.requestsPerSec).toPrecision(3))
}

const report = {
  date: started.toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 1024 ** 3), node: process.version, platform: `${os.platform()} ${os.release()}` },
  settings: { quick, duration, warmup, connections, cards: cardsInTable, targets },
  before: beforeDir === undefined ? undefined : { dir: beforeDir, commit: beforeCommit ?? '' },
  rows,
  events: eventRows,
  notifications: notificationRows,
  billing: billingRows
}
const out = path.join(here, 'results')
await mkdir(out, { recursive: true })
await writeFile(path.join(out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`)
await writeFile(path.join(out, 'latest.md'), renderMarkdown(report))
log(`report: ${path.relative(process.cwd(), path.join(out, 'latest.md'))}`)
