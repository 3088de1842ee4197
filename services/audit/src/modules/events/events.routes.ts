import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '@holo/shared'
import type { EventsAdminService } from './events.service.js'
import {
  ConsumersSchema, DeadLetterPageSchema, DeadLetterParamsSchema, ListDeadLettersQuerySchema, ReplayAllQuerySchema,
  ReplayOneQuerySchema, ReplayedSchema
} from './events.schemas.js'

const tags = ['events']

/** The event bus's admin API; registered in an administrators-only scope. */
export const eventsRoutes: FastifyPluginAsyncTypebox<{ service: EventsAdminService }> = async (app, { service }) => {
  app.get('/api/v1/events/consumers', {
    schema: {
      tags,
      summary: 'Every consumer group: per stream its length, lag, pending entries and consumers; its dead letters',
      response: { 200: { ...ConsumersSchema, description: 'The consumer groups' }, ...problemResponses(503) }
    }
  }, async (_request, reply) => reply.header('cache-control', 'no-store').send(await service.consumers()))

  app.get('/api/v1/events/dead-letters', {
    schema: {
      tags,
      summary: 'A consumer group\'s dead letters, oldest first',
      querystring: ListDeadLettersQuerySchema,
      response: {
        200: { ...DeadLetterPageSchema, description: 'A page of dead letters' },
        ...problemResponses(400, 503)
      }
    }
  }, async (request, reply) =>
    reply.header('cache-control', 'no-store').send(await service.deadLetters(request.query)))

  app.post('/api/v1/events/dead-letters/:id/replay', {
    schema: {
      tags,
      summary: 'Send one dead letter back to its group (only that group reads it again)',
      params: DeadLetterParamsSchema,
      querystring: ReplayOneQuerySchema,
      response: {
        200: { ...ReplayedSchema, description: 'Replayed' },
        ...problemResponses(400, 404, 409, 503)
      }
    }
  }, async (request) => await service.replayOne(request.params.id, request.query.group))

  app.post('/api/v1/events/dead-letters/replay', {
    schema: {
      tags,
      summary: 'Send every dead letter the group has now back to it',
      querystring: ReplayAllQuerySchema,
      response: { 200: { ...ReplayedSchema, description: 'How many were replayed' }, ...problemResponses(400, 503) }
    }
  }, async (request) => await service.replayAll(request.query.group))
}
