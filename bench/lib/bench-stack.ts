// An isolated stack for the load tests: its own database (holo_bench), S3
// server, SMTP catcher, the three producing services (auth, card, file, each
// running its outbox relay onto streams of a prefix of the run's own) on free
// ports, the baseline server, and nginx running gateway/nginx.conf with two
// baseline locations. Optionally a second card service from another checkout
// (the commit before the events were wired) on the same database and Redis,
// for same-run before/after ratios.
import { Redis } from 'ioredis'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  freePort, services, setupDatabase, spawnTs, type NodeProcess, startGateway, startMail, startS3, urlForRole, waitForHttp, withDatabase, type ServiceInfo, type GatewaySettings
} from '@holo/infra'

const here = path.dirname(fileURLToPath(import.meta.url))

/** The services the bench runs: all of them (the consumers read the run's own streams). */
export type BenchService = ServiceInfo['name']
const benchServices = services as Array<ServiceInfo & { name: BenchService }>

export interface BenchStack {
  gatewayUrl: string
  direct: Record<BenchService, string>
  /** The card service of the `before` checkout, when one was given. */
  beforeCardUrl?: string
  /** Prefix of the event streams the services publish to (removed at stop). */
  streamPrefix: string
  baselineDirectUrl: string
  adminUrl: string
  pids: Record<string, number>
  stop: () => Promise<void>
}

export interface BenchStackOptions {
  adminBaseUrl: string
  database: string
  /** Extra env per service (rate limits raised for load, quotas, log level). */
  env: Partial<Record<BenchService, Record<string, string>>>
  /**
   * A checkout of an earlier commit (e.g. c0d4de9, before the events were wired), installed, with its Prisma
   * clients generated: its card service runs beside the current one, on the same database and Redis (its own
   * cache prefix), so before/after ratios come from one run. Its schema must be a subset of the current one.
   */
  beforeDir?: string
  redisUrl?: string
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

    // The relays publish onto streams of this run's own (the machine's Redis is shared): removed at stop.
    const streamPrefix = `bench.${Date.now().toString(36)}.`
    const redisUrl = o.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
    stops.push(async () => { await deleteKeys(redisUrl, `${streamPrefix}*`) })
    const ports = {} as Record<BenchService, number>
    for (const s of benchServices) ports[s.name] = await freePort()
    const jwks = `http://127.0.0.1:${ports.auth}/api/v1/auth/.well-known/jwks.json`
    const direct = {} as BenchStack['direct']
    const pids: Record<string, number> = {}
    const envOf = (s: ServiceInfo & { name: BenchService }, port: number): Record<string, string> => ({
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      DATABASE_URL: urlForRole(adminUrl, s.role),
      DATABASE_POOL_SIZE: '20',
      AUTH_JWKS_URL: jwks,
      FILE_SERVICE_URL: `http://127.0.0.1:${ports.file}`,
      S3_ENDPOINT: s3.endpoint,
      SMTP_URL: `smtp://127.0.0.1:${mail.smtpPort}`,
      REDIS_URL: redisUrl,
      EVENTS_STREAM_PREFIX: streamPrefix,
      ...o.env[s.name] ?? {}
    })
    for (const s of benchServices) {
      const { child, stop: stopService } = startNode('src/server.ts', s.dir, envOf(s, ports[s.name]),
        o.profile?.services.includes(s.name) === true ? ['--cpu-prof', `--cpu-prof-dir=${o.profile.dir}`] : [])
      stops.push(stopService)
      direct[s.name] = `http://127.0.0.1:${ports[s.name]}`
      await waitForHttp(`${direct[s.name]}/health/live`, child, 60_000)
      pids[s.name] = child.pid ?? 0
      o.log(`${s.name} on ${direct[s.name]}`)
    }
    let beforeCardUrl: string | undefined
    if (o.beforeDir !== undefined) {
      const card = benchServices.find((s) => s.name === 'card') as ServiceInfo & { name: BenchService }
      const port = await freePort()
      // Its own cache keys, so that neither service reads what the other cached.
      const { child, stop: stopService } = startNode('src/server.ts', path.join(o.beforeDir, 'services', 'card'),
        { ...envOf(card, port), CACHE_PREFIX: 'card-before:' },
        o.profile?.services.includes('card-before') === true ? ['--cpu-prof', `--cpu-prof-dir=${o.profile.dir}`] : [])
      stops.push(stopService)
      beforeCardUrl = `http://127.0.0.1:${port}`
      await waitForHttp(`${beforeCardUrl}/health/live`, child, 60_000)
      pids['card-before'] = child.pid ?? 0
      o.log(`card (before: ${o.beforeDir}) on ${beforeCardUrl}`)
    }

    const baselinePort = await freePort()
    const baseline = startNode(path.join(here, 'baseline-server.ts'), here, { PORT: String(baselinePort) })
    stops.push(baseline.stop)
    await waitForHttp(`http://127.0.0.1:${baselinePort}/bench/baseline/redis`, baseline.child)
    pids.baseline = baseline.child.pid ?? 0

    const gateway = await startGateway({
      port: await freePort(),
      runDir: path.join(work, 'nginx'),
      upstreams: Object.fromEntries(benchServices.map((s) => [s.name, `127.0.0.1:${ports[s.name]}`])) as
        GatewaySettings['upstreams'],
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
    return {
      gatewayUrl: gateway.url,
      direct,
      beforeCardUrl,
      streamPrefix,
      baselineDirectUrl: `http://127.0.0.1:${baselinePort}`,
      adminUrl,
      pids,
      stop
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Deletes the keys matching `pattern` (SCAN, not KEYS: the server is shared). */
export async function deleteKeys (redisUrl: string, pattern: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  redis.on('error', () => {})
  try {
    await redis.connect()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}
