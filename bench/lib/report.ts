import { describeCpu } from './cpu.js'
import type { EventsRow } from './events-bench.js'
import type { NotificationRow } from './notification-bench.js'
import type { BillingRow } from './billing-bench.js'

export interface Row {
  scenario: string
  /** `before`: the card service of the --before checkout, directly. */
  target: 'direct' | 'gateway' | 'before'
  /** Round of a before/after comparison (--before): direct and before run in turns. */
  round?: number
  /** A direct row's req/s against the before checkout's in the same round. */
  ratioToBefore?: number
  baseline: string
  requestsPerSec: number
  latencyAvgMs: number
  p50Ms: number
  p975Ms: number
  p99Ms: number
  requests: number
  errors: number
  timeouts: number
  non2xx: number
  loadGeneratorCpuPct: number
  ratioToBaseline?: number
  /** The fixed arrival rate asked for (req/s, evenly spaced, open loop); absent for a closed loop. */
  rate?: number
  /**
   * The open-loop generator's own account: measured requests sent, those not sent because maxInFlight were
   * already out (counted in errors), and how late it sent them (ms, included in every latency).
   */
  openLoop?: {
    sent: number
    dropped: number
    maxInFlight: number
    sendLagP99Ms: number
    sendLagMaxMs: number
    /** The first distinct error messages, when requests failed. */
    errorSamples: string[]
  }
  /** A mix's req/s as a ratio to card-get-cached through the gateway in the same run. */
  ratioToCardGetCached?: number
  /** A mix's answers by kind of request. */
  byKind?: Record<string, KindSummary>
  /** Milliseconds of CPU per answered request over the measured part, by part of the stack, and `total` (lib/cpu.ts). */
  cpuMsPerRequest?: Record<string, number>
}

/** One kind of request in a mix: its answers, their average latency (ms) and how many of each status. */
export interface KindSummary { answers: number, avgMs: number, statuses: Record<string, number> }

export interface Report {
  date: string
  machine: { cpus: number, cpuModel?: string, memoryGiB: number, node: string, platform: string }
  settings: { quick: boolean, duration: number, warmup: number, connections: number, cards: number, targets: string[] }
  /** The checkout whose card service the compareBefore scenarios also ran against. */
  before?: { dir: string, commit: string }
  rows: Row[]
  /** The event bus's scenarios (lib/events-bench.ts). */
  events?: EventsRow[]
  /** Live notifications through the gateway (lib/notification-bench.ts). */
  notifications?: NotificationRow[]
  /** Billing's webhooks and checkout against the Stripe stand-in (lib/billing-bench.ts). */
  billing?: BillingRow[]
}

export function renderMarkdown (r: Report): string {
  const lines = [
    `# Benchmark ${r.date}`,
    '',
    `Machine: ${r.machine.cpus} cores (${r.machine.cpuModel ?? 'unknown'}), ${r.machine.memoryGiB} GiB, Node ${r.machine.node}, ${r.machine.platform}.`,
    `Settings: ${r.settings.connections} connections, ${r.settings.duration} s per scenario after a ${r.settings.warmup} s warm-up, ${r.settings.cards} cards in the table${r.settings.quick ? ', quick mode' : ''}.`,
    'The load generator (autocannon; an open-loop generator for fixed-rate rows, see below) runs on the same ' +
    'machine; its own CPU use is shown. Ratios compare each scenario with the baseline of the same target ' +
    'measured in the same run: `nginx-static` is nginx answering a fixed body itself, `fastify-redis` a bare ' +
    'Fastify route reading one Redis key (through nginx for gateway rows, direct otherwise).',
    '',
    '| scenario | target | req/s | ratio to baseline | avg ms | p50 ms | p97.5 ms | p99 ms | errors | non-2xx | loadgen CPU |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
  ]
  for (const x of r.rows) {
    const target = x.round === undefined ? x.target : `${x.target} #${x.round}`
    lines.push(`| ${x.scenario} | ${target} | ${x.requestsPerSec} | ${x.ratioToBaseline === undefined ? '–' : `${x.ratioToBaseline} × ${x.baseline}`} | ${x.latencyAvgMs.toFixed(2)} | ${x.p50Ms} | ${x.p975Ms} | ${x.p99Ms} | ${x.errors + x.timeouts} | ${x.non2xx} | ${x.loadGeneratorCpuPct}% |`)
  }
  const mixes = r.rows.filter((x) => x.byKind !== undefined)
  if (mixes.length > 0) {
    const cached = r.rows.find((x) => x.scenario === 'card-get-cached' && x.target === 'gateway')
    lines.push('', cached === undefined
      ? 'Mixed loads (no card-get-cached through the gateway in this run to compare them with):'
      : 'Mixed loads against the pure cached card read through the gateway in the same run ' +
        `(card-get-cached, ${cached.requestsPerSec} req/s); by kind of request: share of the answers, average ` +
        'latency, statuses:')
    for (const x of mixes) {
      // Answers slower than the arrivals mean the stack saturated: the queue, and with it the latency, grew
      // through the run, so the figures depend on the duration.
      const saturated = x.rate !== undefined && x.requestsPerSec < 0.95 * x.rate
      const short = saturated ? `, only ${x.requestsPerSec} answered: saturated` : ''
      const loop = x.openLoop === undefined ? '' : `, ${describeOpenLoop(x)}`
      const how = x.rate === undefined ? x.target : `${x.target}, fixed ${x.rate} req/s${short}${loop}`
      const ratio = x.ratioToCardGetCached === undefined ? '' : `${x.ratioToCardGetCached} × card-get-cached; `
      lines.push(`- ${x.scenario} (${how}): ${ratio}${describeKinds(x.byKind ?? {})}`)
    }
    lines.push('', 'The mixes run through the gateway only: they span the auth and card services, and autocannon ' +
      'sends all of a run\'s requests to one host.')
    if (mixes.some((x) => x.openLoop !== undefined)) {
      lines.push('', 'Fixed-rate rows are open loop: request i is due at start + i / rate, evenly spaced, sent on a ' +
        'pool of keep-alive connections without waiting for earlier answers, and its latency runs from that due ' +
        'instant (so the generator\'s own lateness and any queueing count). A request due while the in-flight ' +
        'bound is out is not sent and counts as an error. Their percentiles are exact (every latency kept), to ' +
        'the hundredth of a ms; autocannon\'s are whole ms, rounded down, both over 2xx answers only.')
    }
  }
  const costed = r.rows.filter((x) => x.cpuMsPerRequest !== undefined)
  if (costed.length > 0) {
    lines.push('', 'CPU per answered request over each measured part, in ms, by part of the stack (/proc times of ' +
      'each service, its PostgreSQL backends `pg:<service>`, nginx, the shared Redis and the load generator; ' +
      'lib/cpu.ts). Throughput moves with whatever else the machine runs; this moves far less.', '')
    for (const x of costed) lines.push(`- ${x.scenario} (${x.target}): ${describeCpu(x.cpuMsPerRequest ?? {})}`)
  }
  const compared = r.rows.filter((x) => x.ratioToBefore !== undefined)
  if (compared.length > 0 && r.before !== undefined) {
    lines.push('', `Before and after, same run: the card service of this checkout (direct) against the one of ` +
      `${r.before.commit} (${r.before.dir}, \`before\`), on the same database and Redis (each its own cache ` +
      'prefix), in turns, the order swapped each round. Goals: card-create and like ≥ 0.8 ×, card-get-cached ' +
      '≥ 0.95 ×.', '',
    '| scenario | round | after req/s | before req/s | after / before | after p99 ms | before p99 ms |',
    '|---|---:|---:|---:|---:|---:|---:|')
    for (const x of compared) {
      const b = r.rows.find((y) => y.target === 'before' && y.scenario === x.scenario && y.round === x.round)
      lines.push(`| ${x.scenario} | ${x.round ?? ''} | ${x.requestsPerSec} | ${b?.requestsPerSec ?? '–'} | ` +
        `${x.ratioToBefore ?? '–'} × | ${x.p99Ms} | ${b?.p99Ms ?? '–'} |`)
    }
  }
  const events = r.events ?? []
  if (events.length > 0) {
    lines.push('', 'Event bus (real outbox, relay and consumer group; lib/events-bench.ts). Baseline `pg-effect-tx`: ' +
      'the consumer\'s transactions (BEGIN, applied_events INSERT, one-INSERT effect, COMMIT) run straight on ' +
      'PostgreSQL at the same concurrency, in the same run.', '',
    '| scenario | how | events/s | ratio to baseline | commit→effect p50 ms | p99 ms | max ms | errors | goal | met |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|---|')
    for (const x of events) {
      lines.push(`| ${x.scenario} | ${x.variant} | ${x.eventsPerSec} | ${x.ratioToBaseline} × ${x.baseline} ` +
        `(${x.baselinePerSec}/s) | ${x.p50Ms ?? '–'} | ${x.p99Ms ?? '–'} | ${x.maxMs ?? '–'} | ${x.errors} | ` +
        `${x.goal} | ${x.met ? 'yes' : 'no'} |`)
    }
    lines.push('')
    for (const x of events) lines.push(`- ${x.scenario} (${x.variant}): ${x.detail}`)
  }
  const live = r.notifications ?? []
  if (live.length > 0) {
    lines.push('', 'Live notifications through the gateway (lib/notification-bench.ts).', '',
      '| scenario | figure | p50 ms | p99 ms | max ms | errors | goal | met |',
      '|---|---|---:|---:|---:|---:|---|---|')
    for (const x of live) {
      lines.push(`| ${x.scenario} | ${x.value} ${x.unit} | ${x.p50Ms ?? '–'} | ${x.p99Ms ?? '–'} | ${x.maxMs ?? '–'} | ` +
        `${x.errors} | ${x.goal} | ${x.met ? 'yes' : 'no'} |`)
    }
    lines.push('')
    for (const x of live) lines.push(`- ${x.scenario}: ${x.detail}`)
  }
  const billing = r.billing ?? []
  if (billing.length > 0) {
    lines.push('', 'Billing against the Stripe stand-in (lib/billing-bench.ts).', '',
      '| scenario | how | per s | p50 ms | p99 ms | max ms | count | errors | goal | met |',
      '|---|---|---:|---:|---:|---:|---:|---:|---|---|')
    for (const x of billing) {
      lines.push(`| ${x.scenario} | ${x.variant} | ${x.perSec} | ${x.p50Ms} | ${x.p99Ms} | ${x.maxMs} | ${x.count} | ` +
        `${x.errors} | ${x.goal} | ${x.met === null ? '–' : x.met ? 'yes' : 'no'} |`)
    }
    lines.push('')
    for (const x of billing) lines.push(`- ${x.scenario} (${x.variant}): ${x.detail}`)
  }
  return `${lines.join('\n')}\n`
}

/** "card-get 70.0 % 3.1 ms (200), like 8.0 % 9.4 ms (204 × 790, 404 × 3)": each kind's share, latency, statuses. */
export function describeKinds (byKind: Record<string, KindSummary>): string {
  const total = sum(Object.values(byKind).map((k) => k.answers))
  return Object.entries(byKind).map(([kind, k]) => {
    const statuses = Object.entries(k.statuses)
    const codes = statuses.length === 1 ? statuses.map(([code]) => code) : statuses.map(([code, n]) => `${code} × ${n}`)
    const share = total === 0 ? 0 : 100 * k.answers / total
    return `${kind} ${share.toFixed(1)} % ${k.avgMs.toFixed(1)} ms (${codes.join(', ')})`
  }).join(', ')
}

/** "sent 10000, none dropped (bound 2000 in flight), sent late by p99 0.9 ms, at most 3.2 ms". */
export function describeOpenLoop (x: Row): string {
  const o = x.openLoop
  if (o === undefined) return ''
  const dropped = o.dropped === 0 ? 'none dropped' : `${o.dropped} dropped`
  const failed = o.errorSamples.length === 0 ? '' : `; failures: ${o.errorSamples.join('; ')}`
  return `sent ${o.sent}, ${dropped} (bound ${o.maxInFlight} in flight), sent late by p99 ${o.sendLagP99Ms} ms, ` +
    `at most ${o.sendLagMaxMs} ms${failed}`
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
