// Helpers of the obs-* tests: a real Prometheus text parser and promtool.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
// @ts-expect-error the parser ships no types
import parsePrometheusTextFormat from 'parse-prometheus-text-format'

export interface Family {
  name: string
  help: string
  type: string
  metrics: Array<{
    labels?: Record<string, string>
    value?: string
    buckets?: Record<string, string>
    count?: string
    sum?: string
  }>
}

export function parseMetrics (text: string): Map<string, Family> {
  const families = parsePrometheusTextFormat(text) as Family[]
  return new Map(families.map((f) => [f.name, f]))
}

export const promtoolBinary = (): string | undefined =>
  ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p))

export const prometheusBinary = (): string | undefined =>
  ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((p) => existsSync(p))

// prom-client's default gauges end in _total; promtool's linter flags only those.
const KNOWN_LINT =
  /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/

/** Runs `promtool check metrics`: resolves the problems it reports beyond prom-client's known ones. */
export async function promtoolProblems (text: string): Promise<{ code: number | null, problems: string[] }> {
  const bin = promtoolBinary()
  if (bin === undefined) throw new Error('promtool not found: apt-get install -y prometheus (.ci/run does it)')
  const child = spawn(bin, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  child.stdin.end(text)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  const problems = out.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !KNOWN_LINT.test(l))
  return { code, problems }
}
