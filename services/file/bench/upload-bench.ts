// File service benchmark (not a test): uploads/s and MiB/s for 100 KiB and
// 2 MiB images, content GET req/s, directly and through the nginx gateway,
// the service's peak RSS during each upload run, and two baselines measured
// in the same run (nginx's own /health, the service's /health/live).
//
//   cd services/file && pnpm exec tsx --conditions=holo-source bench/upload-bench.ts [--duration 8] [--connections 8] [--get-connections 32]
//
// It starts its own PostgreSQL database, s3rver (own process), token issuer,
// file service (own process, as in production) and nginx with gateway/nginx.conf,
// and removes them all at the end.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import sharp from 'sharp'
import { waitForHttp } from '@holo/infra'
import { freePort, tempDir, testDatabase, testGateway, testIssuer, testRedisUrl } from '@holo/infra/testing'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    connections: { type: 'string', default: '8' },
    'get-connections': { type: 'string', default: '32' }
  }
})
const duration = Number(values.duration)
const connections = Number(values.connections)
const getConnections = Number(values['get-connections'])
const MiB = 1024 * 1024
const here = path.dirname(fileURLToPath(import.meta.url))
const serviceDir = path.resolve(here, '..')
const log = (msg: string): void => { process.stdout.write(`[file-bench] ${msg}\n`) }

const cleanups: Array<() => unknown> = []
const t = { teardown: (fn: () => unknown) => { cleanups.push(fn) } }

function stopOnExit (child: ChildProcess): ChildProcess {
  cleanups.push(async () => {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  })
  return child
}

/** A noise PNG (incompressible) of about `bytes`. */
async function noisePng (bytes: number): Promise<Buffer> {
  const side = Math.round(Math.sqrt(bytes / 3))
  const raw = Buffer.alloc(side * side * 3)
  for (let i = 0; i < raw.length; i++) raw[i] = (Math.random() * 256) | 0
  return await sharp(raw, { raw: { width: side, height: side, channels: 3 } }).png().toBuffer()
}

function multipartBody (png: Buffer): { body: Buffer, contentType: string } {
  const boundary = `----holobench${randomUUID().replace(/-/g, '')}`
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.png"\r\nContent-Type: image/png\r\n\r\n`),
    png,
    Buffer.from(`\r\n--${boundary}--\r\n`)
  ])
  return { body, contentType: `multipart/form-data; boundary=${boundary}` }
}

/** Peak resident memory of a process since the last reset (Linux). */
async function peakRss (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0)
  return kb * 1024
}
const resetPeak = async (pid: number): Promise<void> => { await writeFile(`/proc/${pid}/clear_refs`, '5') }
const currentRss = async (pid: number): Promise<number> =>
  Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024

interface UploadResult { uploads: number, errors: number, seconds: number, uploadsPerSec: number, mibPerSec: number, p50ms: number, p99ms: number }

/** `connections` clients upload the same image as ever new users (no dedupe) for `duration` seconds. */
async function uploadRun (baseUrl: string, png: Buffer, token: () => string): Promise<UploadResult> {
  const { body, contentType } = multipartBody(png)
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const latencies: number[] = []
  let errors = 0
  const started = performance.now()
  const deadline = started + duration * 1000
  const one = async (): Promise<void> => {
    const t0 = performance.now()
    const status = await new Promise<number>((resolve) => {
      const req = request(`${baseUrl}/api/v1/files`, {
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${token()}`, 'content-type': contentType, 'content-length': String(body.length) }
      }, (res) => { res.resume().on('end', () => resolve(res.statusCode ?? 0)) })
      req.on('error', () => resolve(0))
      req.end(body)
    })
    if (status === 201) latencies.push(performance.now() - t0)
    else errors++
  }
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < deadline) await one()
  }))
  const seconds = (performance.now() - started) / 1000
  agent.destroy()
  latencies.sort((a, b) => a - b)
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0
  return {
    uploads: latencies.length,
    errors,
    seconds,
    uploadsPerSec: latencies.length / seconds,
    mibPerSec: (latencies.length * png.length) / MiB / seconds,
    p50ms: q(0.5),
    p99ms: q(0.99)
  }
}

async function getRun (url: string, conns = getConnections): Promise<{ reqPerSec: number, p50ms: number, p99ms: number, non2xx: number, errors: number }> {
  const r = await autocannon({ url, connections: conns, duration, pipelining: 1 })
  return { reqPerSec: r.requests.average, p50ms: r.latency.p50, p99ms: r.latency.p99, non2xx: r.non2xx, errors: r.errors }
}

async function main (): Promise<void> {
  const startedAt = new Date()
  const [db, issuer, spool, s3dir] = await Promise.all([testDatabase(t), testIssuer(t), tempDir(t, 'holo-file-bench-'), tempDir(t, 'holo-file-bench-s3-')])
  const s3 = { endpoint: `http://127.0.0.1:${await freePort()}` }
  stopOnExit(spawn(process.execPath, ['--conditions=holo-source', '--import', 'tsx', 'bench/s3rver-process.ts', s3dir, new URL(s3.endpoint).port], { cwd: serviceDir, stdio: ['ignore', 'ignore', 'inherit'] }))
  await waitForHttp(`${s3.endpoint}/`)
  const port = await freePort()
  const child = spawn(process.execPath, ['--conditions=holo-source', '--import', 'tsx', 'src/server.ts'], {
    cwd: serviceDir,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      PORT: String(port),
      DATABASE_URL: db.urlFor('file'),
      REDIS_URL: testRedisUrl(),
      S3_ENDPOINT: s3.endpoint,
      AUTH_JWKS_URL: issuer.jwksUrl,
      AUTH_ISSUER: issuer.issuer,
      FILE_TEMP_DIR: spool,
      FILE_QUOTA_BYTES: String(1024 ** 4)
    }
  })
  stopOnExit(child)
  const direct = `http://127.0.0.1:${port}`
  await waitForHttp(`${direct}/health/ready`, child)
  const gw = await testGateway(t, { auth: '127.0.0.1:9', card: '127.0.0.1:9', file: `127.0.0.1:${port}` })
  const pid = child.pid as number
  const token = (): string => issuer.token({ sub: randomUUID() })
  log(`service pid ${pid}, direct ${direct}, gateway ${gw.url}; ${duration} s per run, ${connections} upload / ${getConnections} GET connections`)

  const images = { '100 KiB': await noisePng(100 * 1024), '2 MiB': await noisePng(2 * MiB) }
  const targets = { direct, gateway: gw.url }

  // Warm-up: every code path once, and a file to GET.
  const warm = await uploadRun(direct, images['100 KiB'], token)
  if (warm.uploads === 0) throw new Error('warm-up uploads failed')
  const form = multipartBody(images['100 KiB'])
  const created = await fetch(`${direct}/api/v1/files`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token()}`, 'content-type': form.contentType },
    body: new Uint8Array(form.body)
  })
  const file = await created.json() as { id: string, size: number }

  const rows: Array<Record<string, string | number>> = []
  const loadBefore = os.loadavg()[0] ?? 0
  for (const [name, url] of Object.entries({ 'nginx /health': `${gw.url}/health`, 'service /health/live': `${direct}/health/live` })) {
    log(`baseline: ${name}`)
    const r = await getRun(url)
    rows.push({ scenario: name, target: '-', 'req/s': Math.round(r.reqPerSec), p50ms: r.p50ms, p99ms: r.p99ms, errors: r.errors + r.non2xx })
  }
  const nginxBaseline = Number(rows[0]?.['req/s'] ?? 1)
  const liveBaseline = Number(rows[1]?.['req/s'] ?? 1)
  const ratios = (perSec: number): Record<string, string> => ({
    '÷ /health/live': `${((perSec / liveBaseline) * 100).toFixed(2)} %`,
    '÷ nginx /health': `${((perSec / nginxBaseline) * 100).toFixed(2)} %`
  })

  const uploads: Array<Record<string, string | number>> = []
  for (const [size, png] of Object.entries(images)) {
    for (const [target, base] of Object.entries(targets)) {
      log(`uploads: ${size} (${png.length} bytes) ${target}`)
      const rssBefore = await currentRss(pid)
      await resetPeak(pid)
      const r = await uploadRun(base, png, token)
      const peak = await peakRss(pid)
      uploads.push({
        image: `${size} (${(png.length / 1024).toFixed(0)} KiB)`,
        target,
        'uploads/s': r.uploadsPerSec.toFixed(1),
        'MiB/s': r.mibPerSec.toFixed(1),
        p50ms: Math.round(r.p50ms),
        p99ms: Math.round(r.p99ms),
        errors: r.errors,
        'RSS before MiB': (rssBefore / MiB).toFixed(0),
        'peak RSS MiB': (peak / MiB).toFixed(0),
        ...ratios(r.uploadsPerSec)
      })
    }
  }

  const gets: Array<Record<string, string | number>> = []
  const reads = { [`GET content (${(file.size / 1024).toFixed(0)} KiB)`]: `/api/v1/files/${file.id}/content`, 'GET metadata': `/api/v1/files/${file.id}` }
  for (const [scenario, route] of Object.entries(reads)) {
    for (const [target, base] of Object.entries(targets)) {
      log(`${scenario} ${target}`)
      const r = await getRun(`${base}${route}`)
      gets.push({ scenario, target, 'req/s': Math.round(r.reqPerSec), p50ms: r.p50ms, p99ms: r.p99ms, errors: r.errors + r.non2xx, ...ratios(r.reqPerSec) })
    }
  }

  const report = {
    date: startedAt.toISOString(),
    command: `cd services/file && pnpm exec tsx --conditions=holo-source bench/upload-bench.ts --duration ${duration} --connections ${connections} --get-connections ${getConnections}`,
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}`,
    loadAverage: `${loadBefore.toFixed(1)} at the start, ${(os.loadavg()[0] ?? 0).toFixed(1)} at the end (1-minute)`,
    baselines: rows,
    uploads,
    gets
  }
  await mkdir(path.join(here, 'results'), { recursive: true })
  await writeFile(path.join(here, 'results', 'latest.json'), `${JSON.stringify(report, null, 2)}\n`)
  const table = (title: string, list: Array<Record<string, string | number>>): string => {
    const cols = Object.keys(list[0] ?? {})
    return `### ${title}\n\n| ${cols.join(' | ')} |\n|${cols.map(() => ' --- ').join('|')}|\n${list.map((r) => `| ${cols.map((c) => String(r[c])).join(' | ')} |`).join('\n')}\n`
  }
  const md = [`Run ${report.date} on ${report.machine}; load average ${report.loadAverage}\n\n\`${report.command}\`\n`, table('Baselines', rows), table('Uploads', uploads), table('Content GET', gets)].join('\n')
  await writeFile(path.join(here, 'results', 'latest.md'), md)
  process.stdout.write(`\n${md}\n`)
}

try {
  await main()
} finally {
  for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => {})
}
