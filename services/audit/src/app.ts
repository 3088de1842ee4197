import type { FastifyInstance } from 'fastify'
import { authenticated, createService } from '@holo/shared'
import { asyncApiDocument, eventsAdmin, type Consumer } from '@holo/events'
import type { Config } from './config.js'
import type { Deps } from './deps.js'
import { startAuditConsumer } from './modules/audit/audit.consumer.js'
import { AuditRepository } from './modules/audit/audit.repository.js'
import { auditRoutes } from './modules/audit/audit.routes.js'
import { AuditService } from './modules/audit/audit.service.js'
import { eventsRoutes } from './modules/events/events.routes.js'
import { EventsAdminService } from './modules/events/events.service.js'

export interface AppOptions {
  logStream?: NodeJS.WritableStream
  /** The consumer's name in its group (default host-pid-random). */
  consumerName?: string
}

/** Builds the audit service from its config and clients; never reads env, never listens. */
export async function buildApp (config: Config, deps: Deps, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = await createService({
    name: 'audit',
    title: 'Holo Cards audit service',
    description: 'The tamper-evident audit log of every event on the bus, and the bus\'s admin API',
    config,
    logStream: options.logStream,
    // The consumer's lag is not readiness: the API serves what is logged while the log catches up.
    checks: {
      postgres: { check: () => deps.prisma.$queryRaw`SELECT 1` },
      // Without Redis the log is still served (the consumer and the bus's admin API wait for it).
      redis: { check: () => deps.redis.ping(), critical: false }
    },
    observe: { pg: deps.adapter, redis: deps.redis },
    auth: {
      keys: deps.keys,
      issuer: config.AUTH_ISSUER,
      redis: deps.redis,
      registry: { key: config.ROLES_REGISTRY_KEY }
    },
    modules: async (app) => {
      const audit = new AuditService(new AuditRepository(deps.prisma), {
        verifyBatchSize: config.AUDIT_VERIFY_BATCH_SIZE
      })
      const admin = eventsAdmin({ redis: deps.redis, streamPrefix: config.EVENTS_STREAM_PREFIX })
      const events = new EventsAdminService(admin)
      // The event catalogue (AsyncAPI 3.0): the gateway serves it on the docs page as /docs/events.json.
      const catalogue = JSON.stringify(asyncApiDocument({ streamPrefix: config.EVENTS_STREAM_PREFIX }))
      app.get('/asyncapi.json', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) =>
        await reply.type('application/json').send(catalogue))
      await app.register(auditRoutes, { service: audit })
      await app.register(authenticated(eventsRoutes, { permissions: ['events.manage'] }), { service: events })
    }
  })

  // Off (EVENTS_CONSUMER_ENABLED=false), the app only serves what is logged already.
  if (config.EVENTS_CONSUMER_ENABLED) {
    let consumer: Consumer | undefined
    app.addHook('onReady', async () => {
      consumer = await startAuditConsumer({
        config,
        redis: deps.redis,
        pool: deps.pool,
        log: app.log,
        metrics: app.metrics,
        consumerName: options.consumerName
      })
    })
    // Finishes the batch in flight; closeDeps (Redis, the pool) runs after app.close().
    app.addHook('onClose', async () => { await consumer?.stop() })
  }
  return app
}
