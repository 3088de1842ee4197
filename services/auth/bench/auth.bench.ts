// Load figures for the auth service: login/s and refresh/s with p50/p99, and
// their ratio to a baseline (GET /health/live) measured in the same run.
//
//   pnpm exec tsx services/auth/bench/auth.bench.ts                  # against AUTH_URL (default http://127.0.0.1:3001)
//   pnpm exec tsx --conditions=holo-source services/auth/bench/auth.bench.ts --start
//       # starts its own auth service on a fresh database (holo_auth_bench),
//       # production argon2 parameters, rate limits raised for the load
//
// A running service must have its login rate limits raised (RATE_LIMIT_LOGIN_PER_IP,
// RATE_LIMIT_LOGIN_PER_ACCOUNT_IP, RATE_LIMIT_LOGIN_PER_ACCOUNT), or the login figures measure 429s.
// Only loopback addresses are targets; every run is bounded in time.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon, { type Result } from 'autocannon'

const DURATION = Number(process.env.BENCH_SECONDS ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10)
const USERS = 20

interface Figures { name: string, rps: number, p50: number, p99: number, non2xx: number, requests: number }

const figures = (name: string, r: Result): Figures => ({
  name,
  rps: Math.round(r.requests.average * 10) / 10,
  p50: r.latency.p50,
  p99: r.latency.p99,
  non2xx: r.non2xx,
  requests: r.requests.total
})

async function run (o: autocannon.Options): Promise<Result> {
  return await autocannon({ duration: DURATION, connections: CONNECTIONS, ...o })
}

async function post (url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${await res.text()}`)
  return await res.json() as Record<string, unknown>
}

async function startService (): Promise<{ url: string, stop: () => Promise<void> }> {
  const infra = await import('@holo/infra')
  const adminUrl = infra.withDatabase(process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres', 'holo_auth_bench')
  await infra.dropDatabase(adminUrl)
  await infra.setupDatabase(adminUrl)
  const port = await infra.freePort()
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
  const child: ChildProcess = spawn(process.execPath, ['--conditions=holo-source', '--import', 'tsx', 'src/server.ts'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      DATABASE_URL: infra.urlForRole(adminUrl, 'holo_auth'),
      DATABASE_POOL_SIZE: '20',
      SMTP_URL: 'smtp://127.0.0.1:9',
      RATE_LIMIT_NAMESPACE: `bench:${randomBytes(4).toString('hex')}:`,
      RATE_LIMIT_LOGIN_PER_IP: '100000000',
      RATE_LIMIT_LOGIN_PER_ACCOUNT_IP: '100000000',
      RATE_LIMIT_LOGIN_PER_ACCOUNT: '100000000',
      RATE_LIMIT_REGISTER_PER_IP: '100000000'
    }
  })
  const url = `http://127.0.0.1:${port}`
  await infra.waitForHttp(`${url}/health/live`, child, 30_000)
  return {
    url,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
      await infra.dropDatabase(adminUrl)
    }
  }
}

async function main (): Promise<void> {
  const started = process.argv.includes('--start') ? await startService() : undefined
  const base = started?.url ?? process.env.AUTH_URL ?? 'http://127.0.0.1:3001'
  if (!/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(base)) throw new Error('the benchmark only targets loopback addresses')
  const api = `${base}/api/v1/auth`
  try {
    const tag = randomBytes(3).toString('hex')
    const users: Array<{ email: string, username: string, password: string }> = []
    for (let i = 0; i < USERS; i++) {
      const body = { email: `bench-${tag}-${i}@example.test`, username: `bench_${tag}_${i}`, password: `bench passphrase ${tag} ${i}` }
      await post(`${api}/register`, body)
      users.push(body)
    }
    // Refresh chains, twice as many as connections: each response's token feeds a later request.
    const pool = await Promise.all(Array.from({ length: 2 * CONNECTIONS }, async (_, i) => {
      const u = users[i % USERS]
      return String((await post(`${api}/login`, { email: u?.email, password: u?.password })).refreshToken)
    }))

    const baseline = figures('baseline GET /health/live', await run({ url: `${base}/health/live` }))
    let n = 0
    const login = figures('POST /login', await run({
      url: `${api}/login`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      requests: [{
        setupRequest: (req) => {
          const u = users[n++ % USERS]
          return { ...req, body: JSON.stringify({ email: u?.email, password: u?.password }) }
        }
      }]
    }))
    const refresh = figures('POST /refresh', await run({
      url: `${api}/refresh`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      requests: [{
        // autocannon resets a connection's context between requests, so live tokens wait in a shared queue.
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ refreshToken: pool.shift() ?? 'x'.repeat(43) }) }),
        onResponse: (status, body) => {
          if (status === 200) pool.push((JSON.parse(body) as { refreshToken: string }).refreshToken)
        }
      }]
    }))

    const rows = [baseline, login, refresh]
    const date = new Date().toISOString()
    console.log(`auth benchmark, ${date}, ${DURATION} s per scenario, ${CONNECTIONS} connections, node ${process.version}`)
    console.log('| scenario | req/s | p50 ms | p99 ms | non-2xx | requests | vs baseline |')
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const r of rows) {
      const ratio = baseline.rps > 0 ? (r.rps / baseline.rps).toFixed(3) : 'n/a'
      console.log(`| ${r.name} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.non2xx} | ${r.requests} | ${ratio} |`)
    }
  } finally {
    await started?.stop()
  }
}

await main()
