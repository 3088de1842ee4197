import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdParamsSchema, NoContentSchema, problemResponses } from '@holo/shared'
import type { CollectionService } from './collections.service.js'
import {
  CollectionCardParamsSchema, CollectionPageSchema, CollectionSchema, CreateCollectionSchema,
  ListCollectionsQuerySchema, PutCardBodySchema, UpdateCollectionSchema
} from './collections.schemas.js'

const tags = ['collections']

export const collectionRoutes: FastifyPluginAsyncTypebox<{ service: CollectionService }> = async (app, { service }) => {
  app.post('/api/v1/collections', {
    config: { auth: 'required' },
    schema: {
      tags,
      summary: 'Create a collection',
      body: CreateCollectionSchema,
      response: { 201: { ...CollectionSchema, description: 'The new collection' }, ...problemResponses(400, 503) }
    }
  }, async (request, reply) => reply.code(201).send(await service.create(request.caller, request.body)))

  app.get('/api/v1/collections', {
    config: { auth: 'optional' },
    schema: {
      tags,
      summary: 'List public collections (all of yours with ownerId=me)',
      querystring: ListCollectionsQuerySchema,
      description: '`ownerId=me` needs a token (401). A forged cursor is a 400 INVALID_CURSOR.',
      response: {
        200: { ...CollectionPageSchema, description: 'A page of collections' },
        ...problemResponses(400, 503)
      }
    }
  }, async (request) => await service.list(request.query, request.viewer))

  app.get('/api/v1/collections/:id', {
    config: { auth: 'optional' },
    schema: {
      tags,
      summary: 'Read a collection with the cards you may see',
      params: IdParamsSchema,
      response: { 200: { ...CollectionSchema, description: 'The collection' }, ...problemResponses(400, 404, 503) }
    }
  }, async (request) => await service.get(request.params.id, request.viewer))

  app.patch('/api/v1/collections/:id', {
    config: { auth: 'required' },
    schema: {
      tags,
      summary: 'Change your collection',
      params: IdParamsSchema,
      body: UpdateCollectionSchema,
      response: {
        200: { ...CollectionSchema, description: 'The updated collection' },
        ...problemResponses(400, 403, 404, 503)
      }
    }
  }, async (request) => await service.update(request.params.id, request.caller, request.body))

  app.delete('/api/v1/collections/:id', {
    config: { auth: 'required' },
    schema: {
      tags,
      summary: 'Delete a collection (owner, admin)',
      params: IdParamsSchema,
      response: { 204: NoContentSchema, ...problemResponses(400, 403, 404, 503) }
    }
  }, async (request, reply) => {
    await service.remove(request.params.id, request.caller)
    return reply.code(204).send(null)
  })

  app.put('/api/v1/collections/:id/cards/:cardId', {
    config: { auth: 'required' },
    schema: {
      tags,
      operationId: 'addCollectionCard',
      summary: 'Add a card (or move it to `position`); idempotent',
      params: CollectionCardParamsSchema,
      body: PutCardBodySchema,
      description: 'Owner only (403 NOT_OWNER). A card you cannot see is a 404 CARD_NOT_FOUND; a collection ' +
        'holds at most 1000 cards (409 COLLECTION_FULL).',
      response: { 204: NoContentSchema, ...problemResponses(400, 403, 404, 409, 503) }
    }
  }, async (request, reply) => {
    const { id, cardId } = request.params
    await service.putCard(id, cardId, request.caller, request.body?.position)
    return reply.code(204).send(null)
  })

  app.delete('/api/v1/collections/:id/cards/:cardId', {
    config: { auth: 'required' },
    schema: {
      tags,
      operationId: 'removeCollectionCard',
      summary: 'Take a card out; idempotent',
      params: CollectionCardParamsSchema,
      response: { 204: NoContentSchema, ...problemResponses(400, 403, 404, 503) }
    }
  }, async (request, reply) => {
    await service.removeCard(request.params.id, request.params.cardId, request.caller)
    return reply.code(204).send(null)
  })
}
