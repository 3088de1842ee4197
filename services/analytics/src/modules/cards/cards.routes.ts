import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdParamsSchema, problemResponses } from '@holo/shared'
import { RangeQuerySchema } from '../overview/overview.schemas.js'
import type { CardStatsService } from './cards.service.js'
import { CardStatsSchema, TopListSchema, TopQuerySchema } from './cards.schemas.js'

const tags = ['analytics']

export const cardStatsRoutes: FastifyPluginAsyncTypebox<{ service: CardStatsService, cacheSeconds: number }> =
  async (app, { service, cacheSeconds }) => {
    app.get('/api/v1/analytics/cards/top', {
      config: { auth: 'optional' },
      schema: {
        tags,
        summary: 'The most liked or viewed cards of the last 24 hours, 7 days or 30 days',
        description: 'Anyone sees public cards that are not hidden or deleted; administrators see every card. ' +
          'Likes are likes given minus likes taken back in the window; cards with nothing in it are left out. ' +
          'Answers may be a few seconds old.',
        querystring: TopQuerySchema,
        response: { 200: { ...TopListSchema, description: 'Best first' }, ...problemResponses(400, 503) }
      }
    }, async (request, reply) => {
      const q = request.query
      const list = await service.top({
        metric: q.metric ?? 'likes', window: q.window ?? '7d', limit: q.limit ?? 10
      }, request.viewer)
      return reply
        .header('cache-control', request.viewer === null ? `public, max-age=${cacheSeconds}` : 'private, no-store')
        .header('vary', 'Authorization')
        .send(list)
    })

    app.get('/api/v1/analytics/cards/:id', {
      config: { auth: 'required' },
      schema: {
        tags,
        summary: 'Views and likes of one card by hour or by day (its owner or an administrator)',
        description: 'For anyone but the card\'s owner (or an administrator) the answer is a 404 CARD_NOT_FOUND, ' +
          'as for a card analytics has never heard of or one that was deleted (administrators still see those). ' +
          'Default range: the last 30 days by day. Range rules as for the overview.',
        params: IdParamsSchema,
        querystring: RangeQuerySchema,
        response: { 200: { ...CardStatsSchema, description: 'The card\'s series' }, ...problemResponses(400, 404, 503) }
      }
    }, async (request, reply) => {
      const stats = await service.stats(request.params.id, request.query, request.caller)
      return reply.header('cache-control', 'private, no-store').send(stats)
    })
  }
