import t from 'tap'
import Fastify from 'fastify'
import pg from 'pg'
import { Registry } from 'prom-client'
import {
  ObservablePrismaPg, cacheCounter, closeRedis, corePlugin, createRedis, instrumentRedis,
  observePgPool, serviceFastifyOptions, storageTimer
} from '../src/index.js'
import { parseMetrics, promtoolProblems } from './obs-helpers.js'

const PG_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

async function until (fn: () => Promise<boolean> | boolean, tries = 100): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await fn()) return true
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return false
}

function sample (text: string, name: string, labels: Record<string, string>): number | undefined {
  const family = parseMetrics(text).get(name)
  const m = family?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v))
  return m?.value === undefined ? undefined : Number(m.value)
}

t.test('pg pool usage of the Prisma adapter is reported at scrape time', async (t) => {
  const registry = new Registry()
  const adapter = new ObservablePrismaPg(new pg.Pool({ connectionString: PG_URL, max: 2 }), {})
  observePgPool(registry, adapter)
  let text = await registry.metrics()
  t.equal(sample(text, 'db_pool_connections', { pool: 'main', state: 'total' }), 0, 'zero before Prisma connects')

  const driver = await adapter.connect()
  t.teardown(() => driver.dispose())
  const pool = driver.underlyingDriver()
  t.equal(adapter.pool, pool, 'the adapter exposes the pool Prisma uses (the hottest raw statements go to it)')

  // Three slow queries on two connections: one waits.
  const queries = [1, 2, 3].map(() => pool.query('SELECT pg_sleep(0.3)'))
  t.ok(await until(() => pool.totalCount === 2), 'pool opened both connections')
  text = await registry.metrics()
  t.equal(sample(text, 'db_pool_connections', { pool: 'main', state: 'total' }), 2)
  t.equal(sample(text, 'db_pool_connections', { pool: 'main', state: 'idle' }), 0)
  t.equal(sample(text, 'db_pool_waiting_clients', { pool: 'main' }), 1)
  await Promise.all(queries)
  text = await registry.metrics()
  t.equal(sample(text, 'db_pool_connections', { pool: 'main', state: 'idle' }), 2)
  t.equal(sample(text, 'db_pool_waiting_clients', { pool: 'main' }), 0)
})

t.test('Redis command latency, cache hits and misses, storage calls', async (t) => {
  const registry = new Registry()
  const redis = await createRedis(REDIS_URL, 'obs-test')
  t.teardown(() => closeRedis(redis))
  instrumentRedis(registry, redis, 'cache')
  instrumentRedis(registry, redis, 'cache') // idempotent: no double counting
  const key = `obs-test:${process.pid}:${Date.now()}`
  t.teardown(() => redis.del(key))
  await redis.set(key, 'v', 'EX', 60)
  await redis.get(key)
  await redis.pipeline().get(key).get(key).exec()
  await t.rejects(redis.call('NOSUCHCOMMAND'))

  const cache = cacheCounter(registry, 'card')
  cache.record(await redis.get(key))
  cache.record(await redis.get(`${key}:missing`))
  cache.hit()
  cacheCounter(registry, 'avatar').miss() // a second cache shares the counter family

  const timed = storageTimer(registry)
  t.equal(await timed('put', async () => 'stored'), 'stored')
  await t.rejects(timed('get', async () => { throw new Error('NoSuchKey') }), /NoSuchKey/)

  // Values straight from the registry (histogram counts by labels)...
  const json = await registry.getMetricsAsJSON()
  const count = (name: string, labels: Record<string, string>): number => {
    const family = json.find((m) => m.name === name)
    const v = family?.values.find((x) => x.metricName === `${name}_count` &&
      Object.entries(labels).every(([k, want]) => String(x.labels[k]) === want))
    return v?.value ?? 0
  }
  t.equal(count('redis_command_duration_seconds', { client: 'cache', command: 'set', outcome: 'ok' }), 1)
  t.equal(
    count('redis_command_duration_seconds', { client: 'cache', command: 'get', outcome: 'ok' }),
    5,
    'pipelined commands counted one by one'
  )
  t.equal(count('redis_command_duration_seconds', { client: 'cache', command: 'nosuchcommand', outcome: 'error' }), 1)
  t.equal(count('storage_operation_duration_seconds', { operation: 'put', outcome: 'ok' }), 1)
  t.equal(count('storage_operation_duration_seconds', { operation: 'get', outcome: 'error' }), 1)

  // ...and the exposition as a Prometheus parser and promtool read it.
  const text = await registry.metrics()
  const families = parseMetrics(text)
  t.equal(families.get('redis_command_duration_seconds')?.type, 'HISTOGRAM')
  t.equal(families.get('storage_operation_duration_seconds')?.type, 'HISTOGRAM')
  t.equal(families.get('db_pool_connections'), undefined, 'pool gauges only where a pool is observed')
  t.equal(sample(text, 'cache_requests_total', { cache: 'card', result: 'hit' }), 2)
  t.equal(sample(text, 'cache_requests_total', { cache: 'card', result: 'miss' }), 1)
  t.equal(sample(text, 'cache_requests_total', { cache: 'avatar', result: 'miss' }), 1)
  t.equal(
    sample(text, 'cache_requests_total', { cache: 'avatar', result: 'hit' }),
    0,
    'both results exist from the start'
  )

  const lint = await promtoolProblems(text)
  t.same(lint.problems, [], 'promtool finds nothing wrong')
})

t.test('/metrics of the core plugin passes promtool and carries RED and runtime metrics', async (t) => {
  const app = Fastify(serviceFastifyOptions({ service: 'card', logLevel: 'silent' }))
  await app.register(corePlugin, { service: 'card', checks: {}, openapi: { title: 't', description: 'd' } })
  app.get('/api/v1/things/:id', async () => ({ ok: true }))
  t.teardown(() => app.close())
  await app.ready()
  await app.inject('/api/v1/things/1')
  await app.inject('/api/v1/things/2')
  await app.inject('/nowhere')
  const res = await app.inject('/metrics')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const families = parseMetrics(res.body)
  const requests = families.get('http_requests_total')
  t.equal(requests?.type, 'COUNTER')
  t.equal(
    requests?.metrics.find((m) => m.labels?.route === '/api/v1/things/:id')?.value,
    '2',
    'by route template, not raw url'
  )
  t.ok(requests?.metrics.some((m) => m.labels?.status_code === '404'), 'unmatched requests counted')
  t.ok(requests?.metrics.every((m) => m.labels?.service === 'card'), 'service label on every series')
  for (const name of [
    'http_request_duration_seconds',
    'nodejs_eventloop_lag_p99_seconds',
    'nodejs_heap_size_used_bytes',
    'process_cpu_seconds_total'
  ]) {
    t.ok(families.has(name), `${name} exposed`)
  }
  const lint = await promtoolProblems(res.body)
  t.ok(lint.code === 0 || lint.code === 3, `promtool parsed it (exit ${String(lint.code)})`)
  t.same(lint.problems, [], 'no lint problem beyond prom-client defaults')
})

t.test('two apps sharing one Redis client each see its commands; ' +
  'corePlugin observe wires pool and Redis', async (t) => {
  const redis = await createRedis(REDIS_URL, 'obs-test-shared')
  t.teardown(() => closeRedis(redis))
  const adapter = new ObservablePrismaPg(new pg.Pool({ connectionString: PG_URL, max: 3 }), {})
  const driver = await adapter.connect()
  t.teardown(() => driver.dispose())
  await driver.underlyingDriver().query('SELECT 1')

  const apps = await Promise.all([1, 2].map(async () => {
    const app = Fastify(serviceFastifyOptions({ service: 'card', logLevel: 'silent' }))
    await app.register(corePlugin, {
      service: 'card',
      checks: {},
      openapi: { title: 't', description: 'd' },
      observe: { pg: adapter, redis }
    })
    t.teardown(() => app.close())
    await app.ready()
    return app
  }))
  await redis.ping()
  for (const app of apps) {
    const json = await app.metrics.getMetricsAsJSON()
    const ping = json.find((m) => m.name === 'redis_command_duration_seconds')?.values
      .find((v) => v.metricName === 'redis_command_duration_seconds_count' && v.labels.command === 'ping')
    t.equal(ping?.value, 1, 'this app counted the PING once')
    const text = (await app.inject('/metrics')).body
    t.equal(
      sample(text, 'db_pool_connections', { pool: 'main', state: 'total' }),
      1,
      'pool gauges from the observed adapter'
    )
  }
})
