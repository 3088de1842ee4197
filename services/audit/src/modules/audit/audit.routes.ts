import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '@holo/shared'
import type { AuditService } from './audit.service.js'
import { MODERATION_EVENT_TYPES } from './audit.types.js'
import { AuditEventPageSchema, ListAuditEventsQuerySchema, VerifyResultSchema } from './audit.schemas.js'

const tags = ['audit']

export const auditRoutes: FastifyPluginAsyncTypebox<{ service: AuditService }> = async (app, { service }) => {
  app.get('/api/v1/audit/events', {
    config: { auth: 'required', permissions: ['audit.read'] },
    schema: {
      tags,
      summary: 'Search the audit log (audit.read; without audit.read_all, moderation events only)',
      description: 'Newest first by the event\'s time. `type` takes a full type (`holo.card.liked.v1`) or one ' +
        'without its version (`holo.card.liked`, every version). `from` (inclusive) and `to` (exclusive) are ' +
        'RFC 3339 times on the event\'s time; `from` later than `to` is a 400. A caller without the ' +
        `permission audit.read_all sees only ${MODERATION_EVENT_TYPES.join(', ')}.`,
      querystring: ListAuditEventsQuerySchema,
      response: {
        200: { ...AuditEventPageSchema, description: 'A page of the log' },
        ...problemResponses(400, 503)
      }
    }
  }, async (request, reply) => {
    const result = await service.list(request.query, request.caller)
    return reply.header('cache-control', 'no-store').send(result)
  })

  app.get('/api/v1/audit/verify', {
    config: { auth: 'required', permissions: ['audit.read_all'] },
    schema: {
      tags,
      summary: 'Walk the log\'s hash chain from the first row to the last (audit.read_all)',
      description: 'Reads the log in batches. `ok: false` names the first row that breaks the chain: a row ' +
        'changed, removed or inserted before it. See docs/audit.md for what this can and cannot detect.',
      response: {
        200: { ...VerifyResultSchema, description: 'Whether the chain holds' },
        ...problemResponses(503)
      }
    }
  }, async (_request, reply) => reply.header('cache-control', 'no-store').send(await service.verify()))
}
