// Each service's /metrics, read by a real Prometheus text parser and promtool;
// one service scraped by a real Prometheus server, queried back over its API;
// and the Grafana dashboard's queries checked against what is really exposed.
import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { freePort, tempDir, testStreamPrefix } from '@holo/infra/testing'
import { SERVICES, buildService } from '../../packages/api-client/scripts/documents.js'
import {
  parseMetrics,
  prometheusBinary,
  promtoolBinary,
  promtoolProblems
} from '../../packages/shared/test/obs-helpers.js'

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..')
/** Metric families the services really expose, filled by the per-service tests. */
const exposed = new Set<string>()

for (const name of SERVICES) {
  t.test(`${name}: /metrics parses, passes promtool and has RED and runtime metrics`, async (t) => {
    // Consumers on (on streams of the test's own): their lag, pending and dead-letter gauges are exposed too.
    const { app, close } = await buildService(name, {
      EVENTS_CONSUMER_ENABLED: 'true', EVENTS_STREAM_PREFIX: testStreamPrefix(t)
    })
    t.teardown(close)
    await app.inject('/health/live')
    await app.inject('/health/live')
    await app.inject('/api/v1/no-such-route')
    await app.inject('/health/ready') // pings Redis through the instrumented client
    const res = await app.inject('/metrics')
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)

    const lint = await promtoolProblems(res.body)
    t.ok(lint.code === 0 || lint.code === 3, `promtool read it (exit ${String(lint.code)})`)
    t.same(lint.problems, [], 'promtool: no problem beyond prom-client\'s own gauge names')

    const families = parseMetrics(res.body)
    for (const f of families.keys()) exposed.add(f)
    const requests = families.get('http_requests_total')
    t.equal(requests?.type, 'COUNTER')
    t.equal(
      requests?.metrics.find((m) => m.labels?.route === '/health/live' && m.labels.status_code === '200')?.value,
      '2'
    )
    t.ok(
      requests?.metrics.some((m) => m.labels?.route === 'unmatched' && m.labels.status_code === '404'),
      'unknown paths under one label, not their raw URL'
    )
    t.ok(requests?.metrics.every((m) => m.labels?.service === name), 'every series names the service')
    t.equal(families.get('http_request_duration_seconds')?.type, 'HISTOGRAM')
    for (const metric of [
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
      'process_resident_memory_bytes'
    ]) {
      t.ok(families.has(metric), `${metric} exposed`)
    }
    // The shared instruments, wired in buildApp: pool gauges (0 before the first query) and Redis latency.
    for (const state of ['total', 'idle']) {
      t.ok(
        families.get('db_pool_connections')?.metrics.some((m) => m.labels?.pool === 'main' && m.labels.state === state),
        `db_pool_connections{state="${state}"}`
      )
    }
    t.ok(
      families.get('db_pool_waiting_clients')?.metrics.some((m) => m.labels?.pool === 'main'),
      'db_pool_waiting_clients'
    )
    // (read from the text: the parser drops a histogram's labels when `le` comes first)
    t.match(
      res.body,
      new RegExp(
        '^redis_command_duration_seconds_count\\{(?=[^}]*client="main")(?=[^}]*command="ping")' +
          '(?=[^}]*outcome="ok")[^}]*\\} [1-9]',
        'm'
      ),
      'the readiness ping to Redis was timed'
    )
    if (name === 'card') {
      const cache = families.get('cache_requests_total')?.metrics ?? []
      for (const c of ['card', 'card_list']) {
        t.equal(cache.filter((m) => m.labels?.cache === c).length, 2, `cache_requests_total{cache="${c}"} hit and miss`)
      }
    }
    if (name === 'file') {
      t.equal(
        families.get('storage_operation_duration_seconds')?.type,
        'HISTOGRAM',
        'storage latency histogram registered'
      )
    }
  })
}

t.test('Prometheus scrapes a service and answers a query for one of its series', async (t) => {
  const bin = prometheusBinary()
  if (bin === undefined) throw new Error('prometheus not found: apt-get install -y prometheus (.ci/run does it)')
  const { app, close } = await buildService('card')
  t.teardown(close)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const servicePort = typeof address === 'object' && address !== null ? address.port : 0
  await app.inject('/health/live')

  const dir = await tempDir(t, 'holo-prometheus-')
  const config = path.join(dir, 'prometheus.yml')
  await writeFile(config, [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    '  - job_name: card',
    '    static_configs:',
    `      - targets: ['127.0.0.1:${servicePort}']`,
    ''
  ].join('\n'))
  const port = await freePort()
  const child = spawn(bin, [
    `--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  t.teardown(async () => {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  })

  const query = 'http_requests_total{job="card",service="card",route="/health/live",status_code="200"}'
  let result: Array<{ metric: Record<string, string>, value: [number, string] }> = []
  for (let i = 0; i < 120 && result.length === 0; i++) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`)
      if (res.ok) result = ((await res.json()) as { data: { result: typeof result } }).data.result
    } catch { /* not listening yet */ }
  }
  t.equal(result.length, 1, 'one series came back from Prometheus')
  t.equal(result[0]?.metric.route, '/health/live')
  t.ok(Number(result[0]?.value[1]) >= 1, 'its value counts the request')

  const up = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent('up{job="card"}')}`)
  const upResult = ((await up.json()) as { data: { result: Array<{ value: [number, string] }> } }).data.result
  t.equal(upResult[0]?.value[1], '1', 'the target is up')
})

interface Panel {
  type: string
  title: string
  datasource?: { type: string, uid: string }
  targets?: Array<{ expr: string, datasource?: { type: string } }>
}

t.test('the Grafana dashboard queries only what the services and the gateway really produce', async (t) => {
  const dashboard = JSON.parse(await readFile(path.join(repoRoot, 'infra/grafana/holo-dashboard.json'), 'utf8')) as {
    uid: string
    title: string
    panels: Panel[]
  }
  t.ok(dashboard.uid !== '' && dashboard.title !== '', 'titled dashboard')
  const panels = dashboard.panels.filter((p) => p.type !== 'row')
  t.ok(panels.length >= 10, `${panels.length} panels`)
  const prom: Array<{ title: string, expr: string }> = []
  const loki: Array<{ title: string, expr: string }> = []
  for (const p of panels) {
    t.ok((p.targets ?? []).length > 0, `${p.title}: has queries`)
    for (const target of p.targets ?? []) {
      const kind = target.datasource?.type ?? p.datasource?.type
      if (kind === 'prometheus') prom.push({ title: p.title, expr: target.expr })
      else if (kind === 'loki') loki.push({ title: p.title, expr: target.expr })
      else t.fail(`${p.title}: unknown datasource ${String(kind)}`)
    }
  }

  // Every PromQL expression parses (promtool's PromQL parser, via a rules file).
  const dir = await tempDir(t, 'holo-dashboard-')
  const rules = path.join(dir, 'rules.yml')
  const concrete = (e: string): string => e.replace(/\$__rate_interval/g, '5m').replace(/\$service/g, '.+')
  const records = prom.map((q, i) =>
    `      - record: dashboard:q${i}\n        expr: ${JSON.stringify(concrete(q.expr))}\n`)
  await writeFile(rules, `groups:\n  - name: dashboard\n    rules:\n${records.join('')}`)
  const bin = promtoolBinary()
  if (bin === undefined) throw new Error('promtool not found')
  const check = spawn(bin, ['check', 'rules', rules], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  check.stdout.on('data', (d: Buffer) => { out += d.toString() })
  check.stderr.on('data', (d: Buffer) => { out += d.toString() })
  t.equal(
    await new Promise((resolve) => check.on('close', resolve)),
    0,
    `promtool parses every PromQL query ${out.includes('FAILED') ? out : ''}`
  )

  // Metric names: every one is in a service's real /metrics (the services wire the shared instruments).
  t.ok(exposed.has('http_requests_total'), 'service metrics were collected first')

  const family = (name: string): string => name.replace(/_(bucket|sum|count)$/, '')
  for (const q of prom) {
    const names = [...q.expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1] as string)
    t.ok(names.length > 0, `${q.title}: selects a metric`)
    for (const n of names) {
      const f = family(n)
      t.ok(exposed.has(n) || exposed.has(f), `${q.title}: ${n} is exposed`)
    }
  }

  // Gateway: LogQL over nginx's JSON access log; each field used is in its log_format.
  const nginx = await readFile(path.join(repoRoot, 'gateway/nginx.conf'), 'utf8')
  const format = /log_format holo_json[^;]*;/s.exec(nginx)?.[0] ?? ''
  const fields = new Set([...format.matchAll(/\\?"([A-Za-z]+)\\?":/g)].map((m) => m[1]))
  t.ok(fields.has('status') && fields.has('requestTime'), 'access log has status and requestTime')
  t.ok(loki.length >= 3, 'gateway rate, errors and duration panels')
  for (const q of loki) {
    t.match(q.expr, /\{job="holo-gateway"\} \| json/, `${q.title}: parses the gateway's JSON lines`)
    const used = [...q.expr.matchAll(/\| (?:unwrap )?([a-zA-Z]+) *(?:>=|<=|==|!=|>|<|=|\[|\))/g)]
      .map((m) => m[1] as string)
      .concat([...q.expr.matchAll(/by \(([^)]*)\)/g)].flatMap((m) => (m[1] ?? '').split(',').map((s) => s.trim())))
      .filter((f) => f !== '' && f !== 'json' && f !== '__error__')
    for (const f of used) t.ok(fields.has(f), `${q.title}: field ${f} is in the access log`)
  }
})
