import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdParamsSchema, NoContentSchema, problemResponses, sendJson } from '@holo/shared'
import type { NotificationsService } from './notifications.service.js'
import {
  ListNotificationsQuerySchema, NotificationPageSchema, ReadAllBodySchema, ReadAllResultSchema, UnreadCountSchema
} from './notifications.schemas.js'

const tags = ['notifications']

/** The signed-in user's inbox (register inside `authenticated`). */
export const notificationsRoutes: FastifyPluginAsyncTypebox<{ service: NotificationsService }> = async (
  app, { service }
) => {
  app.get('/api/v1/notifications', {
    schema: {
      tags,
      summary: 'Your notifications, newest first',
      description: 'A keyset page: pass `nextCursor` as `cursor` for the next one. `unread=true` lists unread ' +
        'ones only. `title` and `body` are ready to show; `data` holds ids and figures.',
      querystring: ListNotificationsQuerySchema,
      response: { 200: { ...NotificationPageSchema, description: 'A page of the inbox' }, ...problemResponses(400) }
    }
  }, async (request, reply) => {
    const json = await service.list(request.caller.id, request.query)
    return sendJson(reply.header('cache-control', 'no-store'), json)
  })

  app.get('/api/v1/notifications/unread-count', {
    schema: {
      tags,
      summary: 'How many of your notifications are unread',
      response: { 200: { ...UnreadCountSchema, description: 'The unread count' } }
    }
  }, async (request, reply) => {
    const json = await service.unreadCount(request.caller.id)
    return sendJson(reply.header('cache-control', 'no-store'), json)
  })

  app.post('/api/v1/notifications/read-all', {
    schema: {
      tags,
      summary: 'Mark your notifications read',
      description: 'Without a body every unread notification is marked read; with `upTo`, only that one and ' +
        'older ones (what the client has shown).',
      body: ReadAllBodySchema,
      response: { 200: { ...ReadAllResultSchema, description: 'How many changed' }, ...problemResponses(400) }
    },
    // The body is optional: none means "all".
    preValidation: async (request) => {
      if (request.body === undefined || request.body === null) (request as { body: unknown }).body = {}
    }
  }, async (request) => ({ updated: await service.markAllRead(request.caller.id, request.body?.upTo) }))

  app.post('/api/v1/notifications/:id/read', {
    schema: {
      tags,
      summary: 'Mark one notification read',
      params: IdParamsSchema,
      response: { 204: NoContentSchema, ...problemResponses(400, 404) }
    }
  }, async (request, reply) => {
    await service.markRead(request.caller.id, request.params.id)
    return reply.code(204).send(null)
  })

  app.delete('/api/v1/notifications/:id', {
    schema: {
      tags,
      summary: 'Delete one notification',
      params: IdParamsSchema,
      response: { 204: NoContentSchema, ...problemResponses(400, 404) }
    }
  }, async (request, reply) => {
    await service.delete(request.caller.id, request.params.id)
    return reply.code(204).send(null)
  })
}
