import type { FastifyInstance } from 'fastify'
import { cacheCounter, createService } from '@holo/shared'
import type { Config } from './config.js'
import type { Deps } from './deps.js'
import { TopCache } from './modules/cards/cards.cache.js'
import { CardsRepository } from './modules/cards/cards.repository.js'
import { cardStatsRoutes } from './modules/cards/cards.routes.js'
import { CardStatsService } from './modules/cards/cards.service.js'
import { schedulePruning, startIngest } from './modules/ingest/ingest.consumer.js'
import { businessMetrics } from './modules/metrics/business.metrics.js'
import { overviewRoutes } from './modules/overview/overview.routes.js'
import { OverviewService } from './modules/overview/overview.service.js'
import { RollupsRepository } from './modules/overview/rollups.repository.js'

export interface AppOptions {
  logStream?: NodeJS.WritableStream
  /** A stable name for this instance's consumer (tests). */
  consumerName?: string
}

/** Builds the analytics service from its config and clients; never reads env, never listens. */
export async function buildApp (config: Config, deps: Deps, options: AppOptions = {}): Promise<FastifyInstance> {
  return await createService({
    name: 'analytics',
    title: 'Holo Cards analytics service',
    description: 'Platform and card metrics by hour and by day, built from the event bus',
    config,
    logStream: options.logStream,
    checks: {
      postgres: { check: () => deps.prisma.$queryRaw`SELECT 1` },
      redis: { check: () => deps.redis.ping() }
    },
    observe: { pg: deps.adapter, redis: deps.redis },
    auth: {
      keys: deps.keys,
      issuer: config.AUTH_ISSUER,
      redis: deps.redis,
      registry: { key: config.ROLES_REGISTRY_KEY }
    },
    modules: async (app) => {
      const rollups = new RollupsRepository(deps.prisma)
      const cache = new TopCache(deps.redis, config.ANALYTICS_TOP_CACHE_SECONDS,
        cacheCounter(app.metrics, 'analytics_top'), app.log, config.CACHE_PREFIX)
      const cards = new CardStatsService(new CardsRepository(deps.prisma, config.DATABASE_SCHEMA), cache,
        config.ANALYTICS_MAX_BUCKETS)
      businessMetrics(app.metrics, rollups, app.log)

      await app.register(overviewRoutes, { service: new OverviewService(rollups, config.ANALYTICS_MAX_BUCKETS) })
      await app.register(cardStatsRoutes, { service: cards, cacheSeconds: config.ANALYTICS_TOP_CACHE_SECONDS })

      if (config.EVENTS_CONSUMER_ENABLED) {
        const consumer = await startIngest({
          config,
          redis: deps.redis,
          pool: deps.pool,
          log: app.log,
          metrics: app.metrics,
          consumerName: options.consumerName
        })
        const stopPruning = schedulePruning(deps.pool, config.ANALYTICS_DEDUPE_KEEP_DAYS, app.log)
        // Before the clients close (closeDeps runs after app.close): the batch in flight finishes first.
        app.addHook('onClose', async () => {
          stopPruning()
          await consumer.stop()
        })
      }
    }
  })
}
