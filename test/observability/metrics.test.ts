// Each service's /metrics, read by a real Prometheus text parser and promtool,
// and one service scraped by a real Prometheus server, queried back over its API.
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { freePort, tempDir } from '@holo/infra/testing'
import { SERVICES, buildService } from '../../packages/api-client/scripts/documents.js'
import { parseMetrics, prometheusBinary, promtoolProblems } from '../../packages/shared/test/obs-helpers.js'

for (const name of SERVICES) {
  t.test(`${name}: /metrics parses, passes promtool and has RED and runtime metrics`, async (t) => {
    const { app, close } = await buildService(name)
    t.teardown(close)
    await app.inject('/health/live')
    await app.inject('/health/live')
    await app.inject('/api/v1/no-such-route')
    const res = await app.inject('/metrics')
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)

    const lint = await promtoolProblems(res.body)
    t.ok(lint.code === 0 || lint.code === 3, `promtool read it (exit ${String(lint.code)})`)
    t.same(lint.problems, [], 'promtool: no problem beyond prom-client\'s own gauge names')

    const families = parseMetrics(res.body)
    const requests = families.get('http_requests_total')
    t.equal(requests?.type, 'COUNTER')
    t.equal(requests?.metrics.find((m) => m.labels?.route === '/health/live' && m.labels.status_code === '200')?.value, '2')
    t.ok(requests?.metrics.some((m) => m.labels?.route === 'unmatched' && m.labels.status_code === '404'), 'unknown paths under one label, not their raw URL')
    t.ok(requests?.metrics.every((m) => m.labels?.service === name), 'every series names the service')
    t.equal(families.get('http_request_duration_seconds')?.type, 'HISTOGRAM')
    for (const metric of ['nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'process_resident_memory_bytes']) {
      t.ok(families.has(metric), `${metric} exposed`)
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
