import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

declare module 'fastify' {
  interface FastifyInstance {
    /** This app's Prometheus registry: services add their own domain metrics to it. */
    metrics: Registry
  }
}

/**
 * Prometheus metrics at /metrics: RED metrics by route template and status,
 * plus Node's own (event-loop lag, heap, GC). One registry per app instance so
 * tests can build many apps in one process.
 */
export const metricsPlugin = fp(async function metricsPlugin (app: FastifyInstance, o: { service: string }) {
  const registry = new Registry()
  registry.setDefaultLabels({ service: o.service })
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 })
  const labelNames = ['method', 'route', 'status_code'] as const
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by route template and status',
    labelNames,
    registers: [registry]
  })
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route template and status',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry]
  })
  app.decorate('metrics', registry)

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    if (route === '/metrics') return
    const labels = { method: request.method, route, status_code: String(reply.statusCode) }
    requests.inc(labels)
    duration.observe(labels, reply.elapsedTime / 1000)
  })

  app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) => {
    reply.type(registry.contentType)
    return await registry.metrics()
  })
}, { name: 'holo-metrics' })
