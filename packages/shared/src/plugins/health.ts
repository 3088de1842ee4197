import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { HealthSchema } from '../schemas.js'

export interface HealthCheck {
  /** Resolves when the dependency answers; rejects or times out when it does not. */
  check: () => Promise<unknown>
  /** A non-critical dependency down makes the service degraded, not unready. */
  critical?: boolean
}

export interface HealthOptions {
  checks: Record<string, HealthCheck>
  timeoutMs?: number
}

function withTimeout<T> (promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * /health/live says the process is up; /health/ready asks every dependency on
 * each call, so it recovers by itself when a dependency comes back.
 */
export const healthPlugin = fp(async function healthPlugin (app: FastifyInstance, opts: HealthOptions) {
  const timeoutMs = opts.timeoutMs ?? 1000
  const schema = { hide: true, response: { 200: HealthSchema, 503: HealthSchema } }

  // Warm every dependency once before listening (first Prisma query, pool and
  // TLS set-up), so the first readiness probe measures the steady state.
  app.addHook('onReady', async () => {
    await Promise.allSettled(Object.values(opts.checks).map((c) => withTimeout(c.check(), 5000)))
  })

  app.get('/health/live', { schema, logLevel: 'warn' }, async () => ({ status: 'ok' as const }))

  app.get('/health/ready', { schema, logLevel: 'warn' }, async (request, reply) => {
    const entries = await Promise.all(Object.entries(opts.checks).map(async ([name, c]) => {
      const started = performance.now()
      const critical = c.critical ?? true
      try {
        await withTimeout(c.check(), timeoutMs)
        return [name, { status: 'ok' as const, critical, latencyMs: Math.round(performance.now() - started) }] as const
      } catch (err) {
        request.log.warn({ dependency: name, err }, 'readiness check failed')
        return [name, {
          status: 'down' as const,
          critical,
          latencyMs: Math.round(performance.now() - started),
          error: `${name} is unreachable`
        }] as const
      }
    }))
    const checks = Object.fromEntries(entries)
    const down = entries.filter(([, r]) => r.status === 'down')
    const status = down.some(([, r]) => r.critical) ? 'unavailable' : down.length > 0 ? 'degraded' : 'ok'
    reply.code(status === 'unavailable' ? 503 : 200)
    return { status, checks }
  })
}, { name: 'holo-health' })
