import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '@holo/shared'
import { caller } from '../../lib/http.js'
import { NoContent, optionalSecurity, security } from '../../lib/openapi.js'
import type { CollectionService } from './collections.service.js'
import {
  CollectionCardParamsSchema, CollectionPageSchema, CollectionParamsSchema, CollectionSchema, CreateCollectionSchema,
  ListCollectionsQuerySchema, PutCardBodySchema, UpdateCollectionSchema
} from './collections.schemas.js'

const tags = ['collections']

export const collectionRoutes: FastifyPluginAsyncTypebox<{ service: CollectionService }> = async (app, { service }) => {
  app.post('/api/v1/collections', {
    preValidation: app.authenticate,
    schema: {
      tags, summary: 'Create a collection', security, body: CreateCollectionSchema,
      response: { 201: { ...CollectionSchema, description: 'The new collection' }, ...problemResponses(400, 401, 503) }
    }
  }, async (request, reply) => reply.code(201).send(await service.create(caller(request), request.body)))

  app.get('/api/v1/collections', {
    schema: {
      tags, summary: 'List public collections (all of yours with ownerId=me)', security: optionalSecurity, querystring: ListCollectionsQuerySchema,
      description: '`ownerId=me` needs a token (401). A forged cursor is a 400 INVALID_CURSOR.',
      response: { 200: { ...CollectionPageSchema, description: 'A page of collections' }, ...problemResponses(400, 401, 503) }
    }
  }, async (request) => await service.list(request.query, request.user))

  app.get('/api/v1/collections/:id', {
    schema: {
      tags, summary: 'Read a collection with the cards you may see', security: optionalSecurity, params: CollectionParamsSchema,
      response: { 200: { ...CollectionSchema, description: 'The collection' }, ...problemResponses(400, 401, 404, 503) }
    }
  }, async (request) => await service.get(request.params.id, request.user))

  app.patch('/api/v1/collections/:id', {
    preValidation: app.authenticate,
    schema: {
      tags, summary: 'Change your collection', security, params: CollectionParamsSchema, body: UpdateCollectionSchema,
      response: { 200: { ...CollectionSchema, description: 'The updated collection' }, ...problemResponses(400, 401, 403, 404, 503) }
    }
  }, async (request) => await service.update(request.params.id, caller(request), request.body))

  app.delete('/api/v1/collections/:id', {
    preValidation: app.authenticate,
    schema: {
      tags, summary: 'Delete a collection (owner, admin)', security, params: CollectionParamsSchema,
      response: { 204: NoContent, ...problemResponses(400, 401, 403, 404, 503) }
    }
  }, async (request, reply) => {
    await service.remove(request.params.id, caller(request))
    return reply.code(204).send(null)
  })

  app.put('/api/v1/collections/:id/cards/:cardId', {
    preValidation: app.authenticate,
    schema: {
      tags, operationId: 'addCollectionCard', summary: 'Add a card (or move it to `position`); idempotent', security, params: CollectionCardParamsSchema, body: PutCardBodySchema,
      description: 'Owner only (403 NOT_OWNER). A card you cannot see is a 404 CARD_NOT_FOUND; a collection ' +
        'holds at most 1000 cards (409 COLLECTION_FULL).',
      response: { 204: NoContent, ...problemResponses(400, 401, 403, 404, 409, 503) }
    }
  }, async (request, reply) => {
    await service.putCard(request.params.id, request.params.cardId, caller(request), request.body?.position)
    return reply.code(204).send(null)
  })

  app.delete('/api/v1/collections/:id/cards/:cardId', {
    preValidation: app.authenticate,
    schema: {
      tags, operationId: 'removeCollectionCard', summary: 'Take a card out; idempotent', security, params: CollectionCardParamsSchema,
      response: { 204: NoContent, ...problemResponses(400, 401, 403, 404, 503) }
    }
  }, async (request, reply) => {
    await service.removeCard(request.params.id, request.params.cardId, caller(request))
    return reply.code(204).send(null)
  })
}
