// Card service benchmark (not a test): req/s, p50, p99 and errors for cached
// and uncached card reads, search pages and authenticated creates, directly
// against the service and through the real gateway config, with baselines
// (nginx's own /health on the gateway, the service's /health/live) in the same run.
//
//   pnpm exec tsx --conditions=holo-source bench/seed.ts 100000   # once
//   pnpm exec tsx --conditions=holo-source bench/run.ts [seconds=10] [connections=50]
//
// It starts its own card service (production mode, info logging to /dev/null)
// on the stack's database, its own token issuer (a JWKS it serves, so the run
// does not depend on the auth service) and its own nginx from gateway/nginx.conf.
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import autocannon from 'autocannon'
import pg from 'pg'
import { Redis } from 'ioredis'
import { freePort, spawnTs, startGateway, urlForRole, waitForHttp } from '@holo/infra'
import { testIssuer } from '@holo/infra/testing'
import { ADJECTIVES, NOUNS } from './words.js'

const seconds = Number(process.argv[2] ?? 10)
const connections = Number(process.argv[3] ?? 50)
const adminUrl = process.env.DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/holo'
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = 'bench:card:'

const cleanups: Array<() => Promise<unknown> | unknown> = []
/** Searches made so far, across both targets (the uncached scenario never repeats one). */
let searchCount = 0
const log = (m: string): void => { process.stderr.write(`[bench] ${m}\n`) }

interface Figure { name: string, target: 'service' | 'gateway', rps: number, p50: number, p99: number, errors: number, requests: number }

async function measure (name: string, target: Figure['target'], url: string, opts: Partial<autocannon.Options> = {}): Promise<Figure> {
  const result = await autocannon({ url, connections, duration: seconds, pipelining: 1, ...opts })
  const errors = result.errors + result.timeouts + result.non2xx
  const f = { name, target, rps: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99, errors, requests: result.requests.total }
  log(`${target.padEnd(7)} ${name.padEnd(34)} ${String(f.rps).padStart(6)} req/s  p50 ${f.p50} ms  p99 ${f.p99} ms  errors ${errors}`)
  return f
}

async function purgeCache (redis: Redis): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    if (keys.length > 0) await redis.unlink(...keys)
    cursor = next
  } while (cursor !== '0')
}

async function main (): Promise<void> {
  const issuer = await testIssuer({ teardown: (fn) => { cleanups.push(fn) } })
  const port = await freePort()
  const service = spawnTs('src/server.ts', path.resolve(import.meta.dirname, '..'), {
    ...process.env,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'info',
    DATABASE_URL: urlForRole(adminUrl, 'holo_card'),
    REDIS_URL: redisUrl,
    AUTH_JWKS_URL: issuer.jwksUrl,
    AUTH_ISSUER: issuer.issuer,
    CACHE_PREFIX: prefix
  }, ['ignore', 'ignore', 'inherit'])
  cleanups.push(service.stop)
  const direct = `http://127.0.0.1:${port}`
  await waitForHttp(`${direct}/health/ready`, service.child, 60_000)

  const runDir = await mkdtemp(path.join(tmpdir(), 'holo-bench-nginx-'))
  cleanups.push(() => rm(runDir, { recursive: true, force: true }))
  const gateway = await startGateway({ port: await freePort(), upstreams: { auth: '127.0.0.1:9', card: `127.0.0.1:${port}`, file: '127.0.0.1:9' }, runDir })
  cleanups.push(gateway.stop)

  const db = new pg.Client({ connectionString: urlForRole(adminUrl, 'holo_card') })
  await db.connect()
  cleanups.push(() => db.end())
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM card.cards WHERE visibility = 'public' AND hidden_at IS NULL AND deleted_at IS NULL ORDER BY random()`)
  const total = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM card.cards')).rows[0]?.n ?? 0
  if (rows.length < 20_000) throw new Error(`only ${rows.length} public cards: run bench/seed.ts first`)
  const ids = rows.map((r) => r.id)
  const redis = new Redis(redisUrl)
  cleanups.push(() => redis.quit())
  await purgeCache(redis)

  const tokens = Array.from({ length: 100 }, () => issuer.token({ expiresIn: 3600 }))
  const hot = ids[0] as string
  const half = Math.floor(ids.length / 2)
  const figures: Figure[] = []
  log(`${total} cards (${ids.length} listed), ${connections} connections, ${seconds} s each`)

  // Warm-up (not reported): JIT, connection pools, nginx keepalive.
  await autocannon({ url: `${gateway.url}/api/v1/cards/${hot}`, connections, duration: Math.min(5, seconds) })

  for (const [target, base] of [['service', direct], ['gateway', gateway.url]] as const) {
    const api = `${base}/api/v1`
    // Baseline: the cheapest answer on the same path (nginx itself; Fastify's liveness route).
    figures.push(await measure(target === 'gateway' ? 'baseline: nginx /health' : 'baseline: /health/live', target, target === 'gateway' ? `${base}/health` : `${base}/health/live`))

    await fetch(`${api}/cards/${hot}`)
    figures.push(await measure('cached card GET', target, `${api}/cards/${hot}`))

    // Each id once (a disjoint half per target): every read misses the cache.
    let next = target === 'service' ? 0 : half
    const end = target === 'service' ? half : ids.length
    figures.push(await measure('uncached card GET', target, api, {
      requests: [{ setupRequest: (req) => ({ ...req, path: `/api/v1/cards/${ids[next < end ? next++ : (next = target === 'service' ? 0 : half)] as string}` }) }]
    }))

    await fetch(`${api}/cards?q=dragon`)
    figures.push(await measure('search page (anonymous, cached)', target, `${api}/cards?q=dragon`))

    // Every request a list key never asked before (the first pages of signed-in callers
    // share the list cache): each word pair once per page size, page sizes 10-30.
    const pairs = ADJECTIVES.length * NOUNS.length
    figures.push(await measure('search page (signed in, uncached)', target, api, {
      requests: [{
        setupRequest: (req) => {
          const i = searchCount++
          const q = `${ADJECTIVES[i % ADJECTIVES.length] as string} ${NOUNS[Math.floor(i / ADJECTIVES.length) % NOUNS.length] as string}`
          const limit = 10 + Math.floor(i / pairs) % 21
          return { ...req, path: `/api/v1/cards?q=${encodeURIComponent(q)}&limit=${limit}`, headers: { authorization: `Bearer ${tokens[i % tokens.length] as string}` } }
        }
      }]
    }))

    let c = 0
    figures.push(await measure('authenticated card create', target, api, {
      requests: [{
        setupRequest: (req) => {
          const i = c++
          return {
            ...req,
            method: 'POST',
            path: '/api/v1/cards',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[i % tokens.length] as string}` },
            body: JSON.stringify({ title: `Bench card ${i}`, tags: ['bench'], holo: { effect: 'prism', intensity: 0.5 }, rarity: 'rare' })
          }
        }
      }]
    }))
  }

  const baseline = (t: Figure['target']): number => figures.find((f) => f.target === t && f.name.startsWith('baseline'))?.rps ?? 1
  const load = loadavg().map((l) => l.toFixed(1)).join(' ')
  process.stdout.write(`\n${new Date().toISOString()} · ${total} cards · ${connections} connections · ${seconds} s per run · load average ${load}\n\n`)
  process.stdout.write('| target | scenario | req/s | × baseline | p50 ms | p99 ms | errors |\n|---|---|---:|---:|---:|---:|---:|\n')
  for (const f of figures) {
    process.stdout.write(`| ${f.target} | ${f.name} | ${f.rps} | ${(f.rps / baseline(f.target)).toFixed(2)} | ${f.p50} | ${f.p99} | ${f.errors} |\n`)
  }
  // Remove the cards this run created, so runs do not grow the data set.
  await db.query("DELETE FROM card.cards WHERE title LIKE 'Bench card %'")
}

try {
  await main()
} finally {
  for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => {})
}
