import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '@holo/shared'
import { caller } from '../../lib/http.js'
import { NoContent, optionalSecurity, security } from '../../lib/openapi.js'
import type { TemplateService } from './templates.service.js'
import { CreateTemplateSchema, ListTemplatesQuerySchema, TemplatePageSchema, TemplateParamsSchema, TemplateSchema, UpdateTemplateSchema } from './templates.schemas.js'

const tags = ['templates']

export const templateRoutes: FastifyPluginAsyncTypebox<{ service: TemplateService }> = async (app, { service }) => {
  app.post('/api/v1/templates', {
    preValidation: app.requireRole('creator'),
    schema: {
      tags, summary: 'Create a template (creators and admins)', security, body: CreateTemplateSchema,
      response: { 201: { ...TemplateSchema, description: 'The new template' }, ...problemResponses(400, 401, 403, 503) }
    }
  }, async (request, reply) => reply.code(201).send(await service.create(caller(request), request.body)))

  app.get('/api/v1/templates', {
    schema: {
      tags, summary: 'List published templates (your own drafts and archived ones with a token)', security: optionalSecurity, querystring: ListTemplatesQuerySchema,
      description: '`q` matches part of the name, case-insensitively; %, _ and \\ in it are plain characters. ' +
        '`status=draft|archived` lists your own and needs a token (401); with another author\'s id it is a 403 ' +
        '(admins may list anyone\'s). `authorId=me` needs a token (401).',
      response: { 200: { ...TemplatePageSchema, description: 'A page of templates' }, ...problemResponses(400, 401, 403, 503) }
    }
  }, async (request) => await service.list(request.query, request.user))

  app.get('/api/v1/templates/:id', {
    schema: {
      tags, summary: 'Read a template', security: optionalSecurity, params: TemplateParamsSchema,
      response: { 200: { ...TemplateSchema, description: 'The template' }, ...problemResponses(400, 401, 404, 503) }
    }
  }, async (request) => await service.get(request.params.id, request.user))

  app.patch('/api/v1/templates/:id', {
    preValidation: app.authenticate,
    schema: {
      tags, summary: 'Change a template (author, admin)', security, params: TemplateParamsSchema, body: UpdateTemplateSchema,
      response: { 200: { ...TemplateSchema, description: 'The updated template' }, ...problemResponses(400, 401, 403, 404, 503) }
    }
  }, async (request) => await service.update(request.params.id, caller(request), request.body))

  app.delete('/api/v1/templates/:id', {
    preValidation: app.authenticate,
    schema: {
      tags, summary: 'Delete a template (author, admin); one in use by cards is archived instead', security, params: TemplateParamsSchema,
      response: { 204: NoContent, ...problemResponses(400, 401, 403, 404, 503) }
    }
  }, async (request, reply) => {
    const outcome = await service.remove(request.params.id, caller(request))
    return reply.code(204).header('x-template-outcome', outcome).send(null)
  })
}
