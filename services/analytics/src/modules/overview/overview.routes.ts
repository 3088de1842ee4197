import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '@holo/shared'
import type { OverviewService } from './overview.service.js'
import { OverviewSchema, RangeQuerySchema } from './overview.schemas.js'

export const overviewRoutes: FastifyPluginAsyncTypebox<{ service: OverviewService }> = async (app, { service }) => {
  app.get('/api/v1/analytics/overview', {
    config: { auth: 'required', permissions: ['analytics.read'] },
    schema: {
      tags: ['analytics'],
      summary: 'Platform metrics by hour or by day (analytics.read)',
      description: 'Every series has one point per bucket from the bucket holding `from` to the one holding the ' +
        'instant before `to`, zeros included. Buckets are UTC hours or days. `from` not earlier than `to` is a ' +
        '400 VALIDATION_FAILED; a range of more buckets than the service allows (ANALYTICS_MAX_BUCKETS, 1000 by ' +
        'default) is a 400 RANGE_TOO_LARGE naming the limit.',
      querystring: RangeQuerySchema,
      response: { 200: { ...OverviewSchema, description: 'The series' }, ...problemResponses(400, 503) }
    }
  }, async (request, reply) => {
    const overview = await service.overview(request.query)
    return reply.header('cache-control', 'private, no-store').send(overview)
  })
}
