import type { FastifyInstance } from 'fastify'
import { authenticated, createService, publicRoutes } from '@holo/shared'
import { unsubscribeKeys, type Config } from './config.js'
import type { Deps } from './deps.js'
import { notificationMetrics } from './metrics.js'
import { EmailJob } from './modules/emails/emails.job.js'
import { unsubscribeRoutes } from './modules/emails/emails.routes.js'
import { UnsubscribeTokens } from './modules/emails/emails.unsubscribe.js'
import { startIngest } from './modules/ingest/ingest.consumer.js'
import { registerLive } from './modules/live/live.module.js'
import { InboxCache } from './modules/notifications/notifications.cache.js'
import { NotificationsPublisher } from './modules/notifications/notifications.publisher.js'
import { NotificationsRepository } from './modules/notifications/notifications.repository.js'
import { notificationsRoutes } from './modules/notifications/notifications.routes.js'
import { NotificationsService } from './modules/notifications/notifications.service.js'
import { PreferencesRepository } from './modules/preferences/preferences.repository.js'
import { preferencesRoutes } from './modules/preferences/preferences.routes.js'
import { PreferencesService } from './modules/preferences/preferences.service.js'
import { prune, scheduleRetention, type Pruned } from './modules/retention/retention.job.js'

export interface AppOptions {
  logStream?: NodeJS.WritableStream
  /** A stable name for this instance's consumer (tests). */
  consumerName?: string
}

/** What the app's modules share: the inbox repository (since() for resume), the publisher and the jobs. */
export interface NotificationRuntime {
  repository: NotificationsRepository
  publisher: NotificationsPublisher
  emails: EmailJob
  /** One retention pass now (the hourly job runs the same). */
  prune: () => Promise<Pruned>
}

declare module 'fastify' {
  interface FastifyInstance {
    notifications: NotificationRuntime
  }
}

/** Builds the notification service from its config and clients; never reads env, never listens. */
export async function buildApp (config: Config, deps: Deps, options: AppOptions = {}): Promise<FastifyInstance> {
  return await createService({
    name: 'notification',
    title: 'Holo Cards notification service',
    description: 'Inbox, preferences and mail of notifications made from the event bus',
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
      const counters = notificationMetrics(app.metrics)
      const repository = new NotificationsRepository(deps.prisma, deps.adapter.pool)
      const cache = new InboxCache({
        redis: deps.redis,
        prefix: `${config.NOTIFICATIONS_CHANNEL_PREFIX}inbox:`,
        ttlSeconds: config.NOTIFICATIONS_CACHE_SECONDS,
        metrics: app.metrics,
        log: app.log
      })
      const publisher = new NotificationsPublisher(deps.redis, config.NOTIFICATIONS_CHANNEL_PREFIX,
        async (userIds) => await repository.unreadCounts(userIds), app.log, cache)
      const onPruned = async (users: Set<string>): Promise<void> => { await cache.invalidate(users) }
      const tokens = new UnsubscribeTokens(unsubscribeKeys(config))
      const emails = new EmailJob({
        pool: deps.pool, mailer: deps.mailer, tokens, publicUrl: config.PUBLIC_URL, counters, log: app.log
      })
      const retention = {
        retentionDays: config.NOTIFICATIONS_RETENTION_DAYS,
        keepPerUser: config.NOTIFICATIONS_KEEP_PER_USER,
        likeWindowSeconds: config.NOTIFICATIONS_LIKE_WINDOW_SECONDS,
        dedupeKeepDays: config.NOTIFICATIONS_DEDUPE_KEEP_DAYS
      }
      app.decorate('notifications', {
        repository, publisher, emails, prune: async () => await prune(deps.pool, retention, onPruned)
      })
      const preferences = new PreferencesService(new PreferencesRepository(deps.prisma))

      await app.register(authenticated(notificationsRoutes), {
        service: new NotificationsService(repository, publisher, cache)
      })
      await app.register(authenticated(preferencesRoutes), { service: preferences })
      await app.register(publicRoutes(unsubscribeRoutes), { tokens, preferences })
      await registerLive(app, { config, redis: deps.redis, repository, publisher })

      if (config.EVENTS_CONSUMER_ENABLED) {
        const consumer = await startIngest({
          config,
          redis: deps.redis,
          pool: deps.pool,
          publisher,
          counters,
          wakeMail: () => { emails.wake() },
          log: app.log,
          metrics: app.metrics,
          consumerName: options.consumerName
        })
        emails.start(config.NOTIFICATIONS_EMAIL_POLL_MS)
        const stopRetention = scheduleRetention(deps.pool, retention, onPruned, app.log)
        // Before the clients close (closeDeps runs after app.close): the batch in flight finishes first.
        app.addHook('onClose', async () => {
          stopRetention()
          await consumer.stop()
          await emails.stop()
        })
      }
    }
  })
}
