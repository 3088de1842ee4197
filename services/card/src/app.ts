import type { FastifyInstance } from 'fastify'
import { createService, relayOutbox } from '@holo/shared'
import type { Config } from './config.js'
import type { Deps } from './deps.js'
import { CollectionRepository } from './modules/collections/collections.repository.js'
import { collectionRoutes } from './modules/collections/collections.routes.js'
import { CollectionService } from './modules/collections/collections.service.js'
import { CardCache } from './modules/cards/cards.cache.js'
import { CardRepository } from './modules/cards/cards.repository.js'
import { cardRoutes } from './modules/cards/cards.routes.js'
import { CardService } from './modules/cards/cards.service.js'
import { ViewCounter } from './modules/cards/view-counter.js'
import { ModerationRepository } from './modules/moderation/moderation.repository.js'
import { moderationRoutes } from './modules/moderation/moderation.routes.js'
import { ModerationService } from './modules/moderation/moderation.service.js'
import { startEntitlementsConsumer } from './modules/entitlements/entitlements.consumer.js'
import { entitlementCheck } from './modules/entitlements/entitlements.repository.js'
import { TemplateRepository } from './modules/templates/templates.repository.js'
import { templateRoutes } from './modules/templates/templates.routes.js'
import { TemplateService } from './modules/templates/templates.service.js'

export interface AppOptions {
  logStream?: NodeJS.WritableStream
  /** A stable name for this instance's entitlements consumer (tests). */
  consumerName?: string
}

/** Builds the card service from its config and clients; never reads env, never listens. */
export async function buildApp (config: Config, deps: Deps, options: AppOptions = {}): Promise<FastifyInstance> {
  return await createService({
    name: 'card',
    title: 'Holo Cards card service',
    description: 'Cards, templates, collections, likes and search',
    config,
    logStream: options.logStream,
    checks: {
      postgres: { check: () => deps.prisma.$queryRaw`SELECT 1` },
      // Without Redis the service answers from PostgreSQL: degraded, not down.
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
      // Transactions of this client that write events wake the relays after their commit.
      const prisma = relayOutbox(app, config, deps.redis, deps.prisma)
      const cards = new CardRepository(prisma, config.DATABASE_SCHEMA, app.metrics, deps.adapter.pool)
      const templates = new TemplateRepository(prisma, config.DATABASE_SCHEMA)
      const cache = new CardCache({
        redis: deps.redis,
        prefix: config.CACHE_PREFIX,
        cardTtlSeconds: config.CARD_CACHE_TTL_SECONDS,
        listTtlSeconds: config.LIST_CACHE_TTL_SECONDS,
        listStaleSeconds: config.LIST_CACHE_STALE_SECONDS,
        listRefreshMs: config.LIST_CACHE_REFRESH_MS,
        metrics: app.metrics,
        log: app.log
      })
      const views = new ViewCounter(async (events) => { await cards.publish(events) })
      views.schedule(app, config.CARD_VIEWS_FLUSH_MS)
      const cardService = new CardService({
        cards,
        templates,
        cache,
        views,
        checkFile: deps.checkFile,
        entitled: entitlementCheck(deps.prisma),
        metrics: app.metrics,
        log: app.log
      })
      const collectionService = new CollectionService(new CollectionRepository(prisma, config.DATABASE_SCHEMA), cards)
      await app.register(cardRoutes, { service: cardService })
      await app.register(templateRoutes, { service: new TemplateService(templates) })
      await app.register(collectionRoutes, { service: collectionService })
      await app.register(moderationRoutes, {
        service: new ModerationService({
          reports: new ModerationRepository(prisma, config.DATABASE_SCHEMA),
          cards,
          cardService,
          autoHideReports: config.MODERATION_AUTO_HIDE_REPORTS
        })
      })

      if (config.EVENTS_CONSUMER_ENABLED) {
        const consumer = await startEntitlementsConsumer({
          config, redis: deps.redis, pool: deps.pool, log: app.log, metrics: app.metrics, consumerName: options.consumerName
        })
        // Before the clients close (closeDeps runs after app.close): the batch in flight finishes first.
        app.addHook('onClose', async () => { await consumer.stop() })
      }
    }
  })
}
