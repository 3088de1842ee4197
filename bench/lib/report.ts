export interface Row {
  scenario: string
  target: 'direct' | 'gateway'
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
}

export interface Report {
  date: string
  machine: { cpus: number, cpuModel?: string, memoryGiB: number, node: string, platform: string }
  settings: { quick: boolean, duration: number, warmup: number, connections: number, cards: number, targets: string[] }
  rows: Row[]
}

export function renderMarkdown (r: Report): string {
  const lines = [
    `# Benchmark ${r.date}`,
    '',
    `Machine: ${r.machine.cpus} cores (${r.machine.cpuModel ?? 'unknown'}), ${r.machine.memoryGiB} GiB, Node ${r.machine.node}, ${r.machine.platform}.`,
    `Settings: ${r.settings.connections} connections, ${r.settings.duration} s per scenario after a ${r.settings.warmup} s warm-up, ${r.settings.cards} cards in the table${r.settings.quick ? ', quick mode' : ''}.`,
    'The load generator (autocannon) runs on the same machine; its own CPU use is shown. Ratios compare each scenario with the baseline of the same target measured in the same run: `nginx-static` is nginx answering a fixed body itself, `fastify-redis` a bare Fastify route reading one Redis key (through nginx for gateway rows, direct otherwise).',
    '',
    '| scenario | target | req/s | ratio to baseline | avg ms | p50 ms | p97.5 ms | p99 ms | errors | non-2xx | loadgen CPU |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
  ]
  for (const x of r.rows) {
    lines.push(`| ${x.scenario} | ${x.target} | ${x.requestsPerSec} | ${x.ratioToBaseline === undefined ? '–' : `${x.ratioToBaseline} × ${x.baseline}`} | ${x.latencyAvgMs.toFixed(2)} | ${x.p50Ms} | ${x.p975Ms} | ${x.p99Ms} | ${x.errors + x.timeouts} | ${x.non2xx} | ${x.loadGeneratorCpuPct}% |`)
  }
  return `${lines.join('\n')}\n`
}
