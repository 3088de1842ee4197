import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdParamsSchema, NoContentSchema, problemResponses } from '@holo/shared'
import type { TemplateService } from './templates.service.js'
import {
  CreateTemplateSchema, ListTemplatesQuerySchema, TemplatePageSchema, TemplateSchema, UpdateTemplateSchema
} from './templates.schemas.js'

const tags = ['templates']

export const templateRoutes: FastifyPluginAsyncTypebox<{ service: TemplateService }> = async (app, { service }) => {
  app.post('/api/v1/templates', {
    config: { auth: 'required', permissions: ['templates.publish'] },
    schema: {
      tags,
      summary: 'Create a template (creators and admins)',
      body: CreateTemplateSchema,
      response: { 201: { ...TemplateSchema, description: 'The new template' }, ...problemResponses(400, 503) }
    }
  }, async (request, reply) => reply.code(201).send(await service.create(request.caller, request.body)))

  app.get('/api/v1/templates', {
    config: { auth: 'optional' },
    schema: {
      tags,
      summary: 'List published templates (your own drafts and archived ones with a token)',
      querystring: ListTemplatesQuerySchema,
      description: '`q` matches part of the name, case-insensitively; %, _ and \\ in it are plain characters. ' +
        '`status=draft|archived` lists your own and needs a token (401); with another author\'s id it is a 403 ' +
        '(admins may list anyone\'s). `authorId=me` needs a token (401).',
      response: {
        200: { ...TemplatePageSchema, description: 'A page of templates' },
        ...problemResponses(400, 403, 503)
      }
    }
  }, async (request) => await service.list(request.query, request.viewer))

  app.get('/api/v1/templates/:id', {
    config: { auth: 'optional' },
    schema: {
      tags,
      summary: 'Read a template',
      params: IdParamsSchema,
      response: { 200: { ...TemplateSchema, description: 'The template' }, ...problemResponses(400, 404, 503) }
    }
  }, async (request) => await service.get(request.params.id, request.viewer))

  app.patch('/api/v1/templates/:id', {
    config: { auth: 'required' },
    schema: {
      tags,
      summary: 'Change a template (author, admin)',
      params: IdParamsSchema,
      body: UpdateTemplateSchema,
      response: {
        200: { ...TemplateSchema, description: 'The updated template' },
        ...problemResponses(400, 403, 404, 503)
      }
    }
  }, async (request) => await service.update(request.params.id, request.caller, request.body))

  app.delete('/api/v1/templates/:id', {
    config: { auth: 'required' },
    schema: {
      tags,
      summary: 'Delete a template (author, admin); one in use by cards is archived instead',
      params: IdParamsSchema,
      response: { 204: NoContentSchema, ...problemResponses(400, 403, 404, 503) }
    }
  }, async (request, reply) => {
    const outcome = await service.remove(request.params.id, request.caller)
    return reply.code(204).header('x-template-outcome', outcome).send(null)
  })
}
