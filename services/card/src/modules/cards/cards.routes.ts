import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '@holo/shared'
import { caller, onBehalfOf, sendRendered } from '../../lib/http.js'
import { NoContent, NotModified, optionalSecurity, security } from '../../lib/openapi.js'
import type { CardService } from './cards.service.js'
import {
  CardPageSchema, CardParamsSchema, CardSchema, CreateCardSchema, IfMatchHeadersSchema, IfNoneMatchHeadersSchema,
  ListCardsQuerySchema, UpdateCardSchema
} from './cards.schemas.js'

const tags = ['cards']

export const cardRoutes: FastifyPluginAsyncTypebox<{ service: CardService }> = async (app, { service }) => {
  app.post('/api/v1/cards', {
    preValidation: app.authenticate,
    schema: {
      tags, summary: 'Create a card', security, body: CreateCardSchema,
      description: '`templateId` must name a published template (or a draft of yours): else 400 TEMPLATE_NOT_USABLE. ' +
        '`artworkFileId` is checked with the file service (a file of yours; admins: any): a missing or foreign ' +
        'file is a 400 FILE_REFERENCE_INVALID, the file service down a 503 naming `file`; nothing is written then.',
      response: { 201: { ...CardSchema, description: 'The new card' }, ...problemResponses(400, 401, 503) }
    }
  }, async (request, reply) => {
    const { card, etag } = await service.create(caller(request), request.body, onBehalfOf(request))
    return reply.code(201).header('etag', etag).header('location', `/api/v1/cards/${card.id}`).send(card)
  })

  app.get('/api/v1/cards', {
    schema: {
      tags, summary: 'List and search cards (public ones; with ownerId=me also your own)', security: optionalSecurity, querystring: ListCardsQuerySchema,
      description: '`sort=relevance` needs `q`: without it the answer is a 400 VALIDATION_FAILED naming `sort`. ' +
        '`ownerId=me` needs a token (401). A cursor of another sort or a forged one is a 400 INVALID_CURSOR.',
      headers: IfNoneMatchHeadersSchema,
      response: { 200: { ...CardPageSchema, description: 'A page of cards' }, 304: NotModified, ...problemResponses(400, 401, 503) }
    }
  }, async (request, reply) => sendRendered(request, reply, await service.list(request.query, request.user)))

  app.get('/api/v1/cards/:id', {
    schema: {
      tags, summary: 'Read a card', security: optionalSecurity, params: CardParamsSchema, headers: IfNoneMatchHeadersSchema,
      response: { 200: { ...CardSchema, description: 'The card' }, 304: NotModified, ...problemResponses(400, 401, 404, 503) }
    }
  }, async (request, reply) => sendRendered(request, reply, await service.get(request.params.id, request.user)))

  app.patch('/api/v1/cards/:id', {
    preValidation: app.authenticate,
    schema: {
      tags, summary: 'Change your card (If-Match honoured)', security, params: CardParamsSchema, headers: IfMatchHeadersSchema, body: UpdateCardSchema,
      description: 'Owner only: others get a 403 NOT_OWNER (404 when they cannot see the card). An If-Match that is ' +
        'not the card\'s ETag is a 412 CARD_CHANGED. A new `artworkFileId` is checked as on create (400 ' +
        'FILE_REFERENCE_INVALID, 503 naming `file`).',
      response: { 200: { ...CardSchema, description: 'The updated card' }, ...problemResponses(400, 401, 403, 404, 412, 503) }
    }
  }, async (request, reply) => {
    const ifMatch = request.headers['if-match']
    const { id } = request.params
    const { card, etag } = await service.update(id, caller(request), request.body, ifMatch, onBehalfOf(request))
    return reply.header('etag', etag).send(card)
  })

  app.delete('/api/v1/cards/:id', {
    preValidation: app.authenticate,
    schema: {
      tags, summary: 'Delete a card (owner, moderator, admin)', security, params: CardParamsSchema,
      description: 'Others get a 403 NOT_OWNER; a card you cannot see is a 404 CARD_NOT_FOUND.',
      response: { 204: NoContent, ...problemResponses(400, 401, 403, 404, 503) }
    }
  }, async (request, reply) => {
    await service.remove(request.params.id, caller(request))
    return reply.code(204).send(null)
  })

  for (const [method, on] of [['put', true], ['delete', false]] as const) {
    app[method]('/api/v1/cards/:id/like', {
      preValidation: app.authenticate,
      schema: {
        tags, operationId: on ? 'likeCard' : 'unlikeCard', summary: on ? 'Like a card (idempotent)' : 'Take back a like (idempotent)', security, params: CardParamsSchema,
        response: { 204: NoContent, ...problemResponses(400, 401, 404, 503) }
      }
    }, async (request, reply) => {
      await service.like(request.params.id, caller(request), on)
      return reply.code(204).send(null)
    })
  }

  for (const [action, hidden] of [['hide', true], ['unhide', false]] as const) {
    app.post(`/api/v1/cards/:id/${action}`, {
      preValidation: app.requireRole('moderator'),
      schema: {
        tags: ['moderation'], operationId: hidden ? 'hideCard' : 'unhideCard', summary: hidden ? 'Hide a card from everyone but its owner and staff' : 'Show a hidden card again', security, params: CardParamsSchema,
        response: { 200: { ...CardSchema, description: 'The card after the change' }, ...problemResponses(400, 401, 403, 404, 503) }
      }
    }, async (request) => await service.setHidden(request.params.id, caller(request), hidden))
  }
}
