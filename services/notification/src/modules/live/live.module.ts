// Live delivery: wires the hub (Redis subscriber, heartbeat, session checks), tickets, metrics and routes.
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { Config } from '../../config.js'
import type { NotificationsPublisher } from '../notifications/notifications.publisher.js'
import type { NotificationsRepository } from '../notifications/notifications.repository.js'
import { LiveHub } from './live.hub.js'
import { liveMetrics } from './live.metrics.js'
import { liveRoutes } from './live.routes.js'
import { StreamTickets } from './live.tickets.js'

export interface LiveModuleOptions {
  config: Config
  redis: Redis
  repository: NotificationsRepository
  publisher: NotificationsPublisher
}

export async function registerLive (app: FastifyInstance, o: LiveModuleOptions): Promise<void> {
  const hub = new LiveHub({
    redis: o.redis,
    channel: (userId) => o.publisher.channel(userId),
    since: async (userId, afterId, limit) => await o.repository.since(userId, afterId, limit),
    newest: async (userId) => (await o.repository.list(userId, { unread: false, limit: 1 }))[0]?.id ?? null,
    unreadCount: async (userId) => await o.repository.unreadCount(userId),
    metrics: liveMetrics(app.metrics),
    heartbeatMs: o.config.NOTIFICATIONS_HEARTBEAT_MS,
    checkMs: o.config.NOTIFICATIONS_SESSION_CHECK_MS,
    log: app.log
  })
  const tickets = new StreamTickets(o.redis, o.config.NOTIFICATIONS_CHANNEL_PREFIX,
    o.config.NOTIFICATIONS_STREAM_TICKET_SECONDS)
  await app.register(liveRoutes, { redis: o.redis, hub, tickets })
}
