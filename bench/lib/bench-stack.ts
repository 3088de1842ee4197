// An isolated stack for the load tests: its own database (holo_bench), S3
// server, SMTP catcher, the three services on free ports, the baseline
// server, and nginx running gateway/nginx.conf with two baseline locations.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  freePort, services, setupDatabase, spawnTs, type NodeProcess, startGateway, startMail, startS3, urlForRole, waitForHttp, withDatabase, type ServiceInfo
} from '@holo/infra'

const here = path.dirname(fileURLToPath(import.meta.url))

export interface BenchStack {
  gatewayUrl: string
  direct: Record<ServiceInfo['name'], string>
  baselineDirectUrl: string
  adminUrl: string
  pids: Record<string, number>
  stop: () => Promise<void>
}

export interface BenchStackOptions {
  adminBaseUrl: string
  database: string
  /** Extra env per service (rate limits raised for load, quotas, log level). */
  env: Record<ServiceInfo['name'], Record<string, string>>
  log: (msg: string) => void
  /** Services to run under V8's CPU profiler, writing .cpuprofile files here on exit. */
  profile?: { services: string[], dir: string }
}

function startNode (script: string, cwd: string, env: Record<string, string>, nodeArgs: string[] = []): NodeProcess {
  return spawnTs(script, cwd, { ...process.env, ...env }, ['ignore', 'ignore', 'inherit'], nodeArgs)
}

export async function startBenchStack (o: BenchStackOptions): Promise<BenchStack> {
  const stops: Array<() => Promise<void>> = []
  const stop = async (): Promise<void> => { for (const s of stops.reverse()) await s().catch(() => {}) }
  try {
    const adminUrl = withDatabase(o.adminBaseUrl, o.database)
    await setupDatabase(adminUrl)
    const work = await mkdtemp(path.join(tmpdir(), 'holo-bench-'))
    stops.push(() => rm(work, { recursive: true, force: true }))
    const s3 = await startS3(path.join(work, 's3'), await freePort())
    stops.push(s3.stop)
    const mail = await startMail(await freePort(), await freePort())
    stops.push(mail.stop)

    const ports = { auth: await freePort(), card: await freePort(), file: await freePort() }
    const jwks = `http://127.0.0.1:${ports.auth}/api/v1/auth/.well-known/jwks.json`
    const direct = {} as BenchStack['direct']
    const pids: Record<string, number> = {}
    for (const s of services) {
      const { child, stop: stopService } = startNode('src/server.ts', s.dir, {
        NODE_ENV: 'development',
        LOG_LEVEL: 'warn',
        PORT: String(ports[s.name]),
        DATABASE_URL: urlForRole(adminUrl, s.role),
        DATABASE_POOL_SIZE: '20',
        AUTH_JWKS_URL: jwks,
        FILE_SERVICE_URL: `http://127.0.0.1:${ports.file}`,
        S3_ENDPOINT: s3.endpoint,
        SMTP_URL: `smtp://127.0.0.1:${mail.smtpPort}`,
        ...o.env[s.name]
      }, o.profile?.services.includes(s.name) === true ? ['--cpu-prof', `--cpu-prof-dir=${o.profile.dir}`] : [])
      stops.push(stopService)
      direct[s.name] = `http://127.0.0.1:${ports[s.name]}`
      await waitForHttp(`${direct[s.name]}/health/live`, child, 60_000)
      pids[s.name] = child.pid ?? 0
      o.log(`${s.name} on ${direct[s.name]}`)
    }

    const baselinePort = await freePort()
    const baseline = startNode(path.join(here, 'baseline-server.ts'), here, { PORT: String(baselinePort) })
    stops.push(baseline.stop)
    await waitForHttp(`http://127.0.0.1:${baselinePort}/bench/baseline/redis`, baseline.child)
    pids.baseline = baseline.child.pid ?? 0

    const gateway = await startGateway({
      port: await freePort(),
      runDir: path.join(work, 'nginx'),
      upstreams: { auth: `127.0.0.1:${ports.auth}`, card: `127.0.0.1:${ports.card}`, file: `127.0.0.1:${ports.file}` },
      extraUpstreams: `  upstream bench_baseline {\n    server 127.0.0.1:${baselinePort};\n    keepalive 64;\n  }`,
      extraLocations: [
        '    location = /bench/baseline/static {',
        '      default_type application/json;',
        '      return 200 \'{"id":"baseline","title":"nginx answering a fixed body by itself"}\';',
        '    }',
        '    location = /bench/baseline/redis {',
        '      proxy_pass http://bench_baseline;',
        '    }'
      ].join('\n')
    })
    stops.push(gateway.stop)
    pids.nginx = gateway.process.pid ?? 0
    return { gatewayUrl: gateway.url, direct, baselineDirectUrl: `http://127.0.0.1:${baselinePort}`, adminUrl, pids, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
