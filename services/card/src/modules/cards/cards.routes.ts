import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import {
  IdParamsSchema, NoContentSchema, NotModifiedSchema, onBehalfOf, problemResponses, sendJsonWithValidators
} from '@holo/shared'
import type { CardService } from './cards.service.js'
import {
  CardPageSchema, CardSchema, CreateCardSchema, HideCardSchema, IfMatchHeadersSchema, IfNoneMatchHeadersSchema,
  ListCardsQuerySchema, UpdateCardSchema, type HideCard
} from './cards.schemas.js'
import { versionOfTag, type JsonView } from './cards.views.js'

const tags = ['cards']

/**
 * A card or page with its validators, or 304. Anonymous answers may sit in shared caches (which must
 * revalidate: invalidation is immediate here); personal ones (likedByMe) only in the reader's.
 */
function sendView (request: FastifyRequest, reply: FastifyReply, view: JsonView): FastifyReply {
  return sendJsonWithValidators(request, reply, view.json, {
    etag: `"${view.tag}"`,
    cacheControl: view.personal ? 'private, no-cache' : 'public, no-cache',
    vary: 'Authorization'
  })
}

/**
 * The card version If-Match names: undefined without one or for `*`, null when it names none of ours.
 * The route reads the header; comparing the version is the service's rule (see CardService.update).
 */
function ifMatchVersion (header: string | undefined): number | null | undefined {
  if (header === undefined || header.trim() === '*') return undefined
  const tag = /^(?:W\/)?"([^"]*)"$/.exec(header.trim())?.[1]
  return tag === undefined ? null : versionOfTag(tag)
}

export const cardRoutes: FastifyPluginAsyncTypebox<{ service: CardService }> = async (app, { service }) => {
  app.post('/api/v1/cards', {
    config: { auth: 'required' },
    schema: {
      tags,
      summary: 'Create a card',
      body: CreateCardSchema,
      description: '`templateId` must name a published template (or a draft of yours): else 400 ' +
        'TEMPLATE_NOT_USABLE. `artworkFileId` is checked with the file service (a file of yours; admins: any): ' +
        'a missing or foreign file is a 400 FILE_REFERENCE_INVALID, the file service down a 503 naming `file`; ' +
        'nothing is written then. A premium template needs an entitlement (bought, or Holo+): else 403 ' +
        'ENTITLEMENT_REQUIRED, whose `buy` says what to check out.',
      response: { 201: { ...CardSchema, description: 'The new card' }, ...problemResponses(400, 403, 503) }
    }
  }, async (request, reply) => {
    const { card, tag } = await service.create(request.caller, request.body, onBehalfOf(request))
    return reply.code(201).header('etag', `"${tag}"`).header('location', `/api/v1/cards/${card.id}`).send(card)
  })

  app.get('/api/v1/cards', {
    config: { auth: 'optional' },
    schema: {
      tags,
      summary: 'List and search cards (public ones; with ownerId=me also your own)',
      querystring: ListCardsQuerySchema,
      description: '`sort=relevance` needs `q`: without it the answer is a 400 VALIDATION_FAILED naming `sort`. ' +
        '`ownerId=me` needs a token (401). A cursor of another sort or a forged one is a 400 INVALID_CURSOR.',
      headers: IfNoneMatchHeadersSchema,
      response: {
        200: { ...CardPageSchema, description: 'A page of cards' },
        304: NotModifiedSchema,
        ...problemResponses(400, 503)
      }
    }
  }, async (request, reply) => sendView(request, reply, await service.list(request.query, request.viewer)))

  app.get('/api/v1/cards/:id', {
    config: { auth: 'optional' },
    schema: {
      tags,
      summary: 'Read a card',
      params: IdParamsSchema,
      headers: IfNoneMatchHeadersSchema,
      response: {
        200: { ...CardSchema, description: 'The card' },
        304: NotModifiedSchema,
        ...problemResponses(400, 404, 503)
      }
    }
  }, async (request, reply) => sendView(request, reply, await service.get(request.params.id, request.viewer)))

  app.patch('/api/v1/cards/:id', {
    config: { auth: 'required' },
    schema: {
      tags,
      summary: 'Change your card (If-Match honoured)',
      params: IdParamsSchema,
      headers: IfMatchHeadersSchema,
      body: UpdateCardSchema,
      description: 'Owner only: others get a 403 NOT_OWNER (404 when they cannot see the card). An If-Match that is ' +
        'not the card\'s ETag is a 412 CARD_CHANGED. A new `artworkFileId` is checked as on create (400 ' +
        'FILE_REFERENCE_INVALID, 503 naming `file`). A card on a premium template is edited only with an ' +
        'entitlement to it (403 ENTITLEMENT_REQUIRED).',
      response: {
        200: { ...CardSchema, description: 'The updated card' },
        ...problemResponses(400, 403, 404, 412, 503)
      }
    }
  }, async (request, reply) => {
    const expected = ifMatchVersion(request.headers['if-match'])
    const { id } = request.params
    const { card, tag } = await service.update(id, request.caller, request.body, expected, onBehalfOf(request))
    return reply.header('etag', `"${tag}"`).send(card)
  })

  app.delete('/api/v1/cards/:id', {
    config: { auth: 'required' },
    schema: {
      tags,
      summary: 'Delete a card (owner, moderator, admin)',
      params: IdParamsSchema,
      description: 'Others get a 403 NOT_OWNER; a card you cannot see is a 404 CARD_NOT_FOUND.',
      response: { 204: NoContentSchema, ...problemResponses(400, 403, 404, 503) }
    }
  }, async (request, reply) => {
    await service.remove(request.params.id, request.caller)
    return reply.code(204).send(null)
  })

  for (const [method, on] of [['put', true], ['delete', false]] as const) {
    app[method]('/api/v1/cards/:id/like', {
      config: { auth: 'required' },
      schema: {
        tags,
        operationId: on ? 'likeCard' : 'unlikeCard',
        summary: on ? 'Like a card (idempotent)' : 'Take back a like (idempotent)',
        params: IdParamsSchema,
        response: { 204: NoContentSchema, ...problemResponses(400, 404, 503) }
      }
    }, async (request, reply) => {
      await service.like(request.params.id, request.caller, on)
      return reply.code(204).send(null)
    })
  }

  for (const [action, hidden] of [['hide', true], ['unhide', false]] as const) {
    app.post(`/api/v1/cards/:id/${action}`, {
      config: { auth: 'required', permissions: ['cards.hide'] },
      // The hide body is optional: no body is the same as `{}`.
      preValidation: async (request) => { request.body ??= {} },
      schema: {
        tags: ['moderation'],
        operationId: hidden ? 'hideCard' : 'unhideCard',
        summary: hidden ? 'Hide a card from everyone but its owner and staff' : 'Show a hidden card again',
        params: IdParamsSchema,
        ...(hidden ? { body: HideCardSchema } : {}),
        response: {
          200: { ...CardSchema, description: 'The card after the change' },
          ...problemResponses(400, 404, 503)
        }
      }
    }, async (request) => {
      const reason = hidden ? (request.body as HideCard | undefined)?.reason : undefined
      return await service.setHidden(request.params.id, request.caller, hidden, reason)
    })
  }
}
