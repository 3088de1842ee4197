import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

// Generic instruments a service wires to its own clients. Each factory is
// idempotent per registry: calling it twice returns the same metric, so two
// modules (or a rebuilt app in a test) never register a name twice.

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

function single<T> (registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}

/** A service's own counter, created once per registry (a rebuilt app or a second module gets the same one). */
export function counter<L extends string = never> (
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = []
): Counter<L> {
  return single(registry, name, () => new Counter<L>({ name, help, labelNames, registers: [registry] }))
}

/** What pg.Pool exposes about its connections (read at scrape time). */
export interface PoolStats { totalCount: number, idleCount: number, waitingCount: number }

/** A pool, or something holding one that appears after connecting (the Prisma pg adapter). */
export type PoolSource = PoolStats | { readonly pool: PoolStats | undefined }

const poolSources = new WeakMap<Registry, Map<string, PoolSource>>()

function statsOf (source: PoolSource): PoolStats | undefined {
  return 'totalCount' in source ? source : source.pool
}

/**
 * Reports a pg pool's connections at every scrape:
 * db_pool_connections{pool, state="total|idle"} and db_pool_waiting_clients{pool}.
 * Pass the pool, or the adapter from `pgAdapter()` (its pool exists once Prisma connected).
 */
export function observePgPool (registry: Registry, source: PoolSource, pool = 'main'): void {
  let sources = poolSources.get(registry)
  if (sources === undefined) {
    const map = new Map<string, PoolSource>()
    sources = map
    poolSources.set(registry, map)
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'db_pool_connections',
      help: 'Connections of the PostgreSQL pool by state (total = idle + in use)',
      labelNames: ['pool', 'state'] as const,
      registers: [registry],
      collect () {
        this.reset()
        for (const [name, s] of map) {
          const stats = statsOf(s)
          this.set({ pool: name, state: 'total' }, stats?.totalCount ?? 0)
          this.set({ pool: name, state: 'idle' }, stats?.idleCount ?? 0)
        }
      }
    })
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'db_pool_waiting_clients',
      help: 'Queries waiting for a free connection of the PostgreSQL pool',
      labelNames: ['pool'] as const,
      registers: [registry],
      collect () {
        this.reset()
        for (const [name, s] of map) this.set({ pool: name }, statsOf(s)?.waitingCount ?? 0)
      }
    })
  }
  sources.set(pool, source)
}

/** The subset of an ioredis client the instrument wraps. */
interface RedisLike {
  sendCommand: (command: { name: string, promise: Promise<unknown> }, ...rest: never[]) => unknown
}

type Sink = (command: string) => (outcome: { outcome: 'ok' | 'error' }) => void
/** Per client: the registries observing it (one wrapper, however many apps share the client). */
const redisSinks = new WeakMap<object, Map<Registry, Sink>>()

/**
 * Times every command an ioredis client sends (pipelines included):
 * redis_command_duration_seconds{client, command, outcome="ok|error"}.
 * Wraps the client's own sendCommand once; calling it again for the same
 * registry changes nothing, for another registry (another app) adds it.
 */
export function instrumentRedis<R extends object> (registry: Registry, redis: R, client = 'main'): R {
  const histogram = single(registry, 'redis_command_duration_seconds', () => new Histogram({
    name: 'redis_command_duration_seconds',
    help: 'Latency of Redis commands, from send to reply',
    labelNames: ['client', 'command', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry]
  }))
  let sinks = redisSinks.get(redis)
  if (sinks === undefined) {
    const all = new Map<Registry, Sink>()
    sinks = all
    redisSinks.set(redis, all)
    const target = redis as unknown as RedisLike
    const original = target.sendCommand.bind(target)
    target.sendCommand = (command, ...rest) => {
      const name = command.name.toLowerCase()
      const ends = [...all.values()].map((sink) => sink(name))
      const result = original(command, ...rest)
      command.promise.then(
        () => { for (const end of ends) end({ outcome: 'ok' }) },
        () => { for (const end of ends) end({ outcome: 'error' }) }
      )
      return result
    }
  }
  if (!sinks.has(registry)) sinks.set(registry, (command) => histogram.startTimer({ client, command }))
  return redis
}

export interface CacheCounter {
  hit: () => void
  miss: () => void
  /** Counts a lookup by its result: a value is a hit, undefined/null a miss. */
  record: <T>(value: T) => T
}

/** cache_requests_total{cache, result="hit|miss"}: one counter for every cache of the service. */
export function cacheCounter (registry: Registry, cache: string): CacheCounter {
  const counter = single(registry, 'cache_requests_total', () => new Counter({
    name: 'cache_requests_total',
    help: 'Cache lookups by cache and result',
    labelNames: ['cache', 'result'] as const,
    registers: [registry]
  }))
  // Both series exist from the start, so hit ratios are defined before the first miss.
  counter.inc({ cache, result: 'hit' }, 0)
  counter.inc({ cache, result: 'miss' }, 0)
  const hit = (): void => { counter.inc({ cache, result: 'hit' }) }
  const miss = (): void => { counter.inc({ cache, result: 'miss' }) }
  return {
    hit,
    miss,
    record: (value) => { if (value === undefined || value === null) miss(); else hit(); return value }
  }
}

export type TimedCall = <T>(operation: string, fn: () => Promise<T>) => Promise<T>

/**
 * storage_operation_duration_seconds{operation, outcome="ok|error"}: wrap each
 * object-store call, e.g. `await timed('put', () => s3.putObject(...))`.
 */
export function storageTimer (registry: Registry): TimedCall {
  const histogram = single(registry, 'storage_operation_duration_seconds', () => new Histogram({
    name: 'storage_operation_duration_seconds',
    help: 'Latency of object-storage calls by operation',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry]
  }))
  return async (operation, fn) => {
    const end = histogram.startTimer({ operation })
    try {
      const out = await fn()
      end({ outcome: 'ok' })
      return out
    } catch (err) {
      end({ outcome: 'error' })
      throw err
    }
  }
}
