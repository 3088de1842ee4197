// Logging and metrics shared by the relay and the consumer runtime. The logger
// is any pino-like object (a service passes app.log); metrics go to the
// prom-client registry a service already serves on /metrics.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

type LogFn = (obj: object, msg: string) => void

/** The subset of a pino logger the bus uses. */
export interface EventsLogger { debug: LogFn, info: LogFn, warn: LogFn, error: LogFn }

const noop: LogFn = () => {}
export const silentLogger: EventsLogger = { debug: noop, info: noop, warn: noop, error: noop }

/** Seconds, from a millisecond of commit to a minute of an outage or a retry. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

// Each instrument exists once per registry: a second relay or consumer in the
// same process (or a rebuilt app in a test) gets the same one.
function single<T> (registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}

export function counter<L extends string> (
  registry: Registry, name: string, help: string, labelNames: readonly L[]
): Counter<L> {
  return single(registry, name, () => new Counter<L>({ name, help, labelNames, registers: [registry] }))
}

export function histogram<L extends string> (
  registry: Registry, name: string, help: string, labelNames: readonly L[]
): Histogram<L> {
  return single(registry, name, () => new Histogram<L>({
    name, help, labelNames, buckets: LATENCY_BUCKETS, registers: [registry]
  }))
}

/** A value read at scrape time from each registered source (one per relay or consumer). */
export type GaugeSource<L extends string> = () => Promise<Array<{ labels: Partial<Record<L, string>>, value: number }>>

const gaugeSources = new WeakMap<Registry, Map<string, Set<GaugeSource<string>>>>()

/**
 * A gauge computed when Prometheus scrapes (from PostgreSQL or Redis), so it
 * costs nothing between scrapes. Returns a function that unregisters the source.
 * A source that fails (its database is down) reports nothing for that scrape.
 */
export function collectedGauge<L extends string> (
  registry: Registry, name: string, help: string, labelNames: readonly L[], source: GaugeSource<L>
): () => void {
  let byName = gaugeSources.get(registry)
  if (byName === undefined) {
    byName = new Map()
    gaugeSources.set(registry, byName)
  }
  let sources = byName.get(name)
  if (sources === undefined) {
    const set = new Set<GaugeSource<string>>()
    sources = set
    byName.set(name, set)
    single(registry, name, () => new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect () {
        this.reset()
        const all = await Promise.all([...set].map(async (s) => await s().catch(() => [])))
        for (const points of all) for (const p of points) this.set(p.labels, p.value)
      }
    }))
  }
  const s = source as GaugeSource<string>
  sources.add(s)
  return () => { sources.delete(s) }
}

export function errorMessage (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** Exponential backoff: base, 2 × base, 4 × base, ... up to max. */
export function exponential (baseMs: number, maxMs: number): (attempt: number) => number {
  return (attempt) => Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))
}

/** A sleep that ends early when `signal` aborts (stop() must not wait out a backoff). */
export async function pause (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return
  await new Promise<void>((resolve) => {
    const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
