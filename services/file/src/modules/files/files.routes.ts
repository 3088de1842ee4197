import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdParamsSchema, NoContentSchema, problemResponses } from '@holo/shared'
import { FileListSchema, FileSchema, ListQuerySchema, tags } from './files.schemas.js'
import type { FilesService } from './files.service.js'

export interface FilesRoutesOptions { files: FilesService }

export const filesRoutes: FastifyPluginAsyncTypebox<FilesRoutesOptions> = async (app, { files }) => {
  app.get('/api/v1/files', {
    config: { auth: 'required' },
    schema: {
      tags,
      summary: 'List files',
      description: 'The caller\'s files, newest first; admins may list another user\'s.',
      querystring: ListQuerySchema,
      response: {
        200: { ...FileListSchema, description: 'A page of the files, newest first' },
        ...problemResponses(400, 403, 503)
      }
    }
  }, async (request) => await files.list(request.caller, request.query))

  app.get('/api/v1/files/:id', {
    config: { auth: 'optional' },
    schema: {
      tags,
      summary: 'File metadata',
      description: 'Private files of others answer 404.',
      params: IdParamsSchema,
      response: { 200: { ...FileSchema, description: 'The file\'s metadata' }, ...problemResponses(400, 404, 503) }
    }
  }, async (request) => await files.get(request.viewer, request.params.id))

  app.get('/api/v1/files/:id/ownership', {
    config: { auth: 'required' },
    schema: {
      tags,
      operationId: 'checkFileOwnership',
      summary: 'May the caller use this file in their own records?',
      description: 'Other services ask this with the caller\'s token before they store a reference to a file ' +
        '(a card\'s artwork, an avatar). 204 when the caller owns the file or is an admin; another user\'s ' +
        'public file is a 403 NOT_OWNER; a missing file, or another user\'s private one, a 404 FILE_NOT_FOUND.',
      params: IdParamsSchema,
      response: {
        204: { ...NoContentSchema, description: 'The caller may use the file' },
        ...problemResponses(400, 403, 404, 503)
      }
    }
  }, async (request, reply) => {
    await files.checkOwnership(request.caller, request.params.id)
    return await reply.code(204).send(null)
  })

  app.delete('/api/v1/files/:id', {
    config: { auth: 'required' },
    schema: {
      tags,
      summary: 'Delete a file',
      description: 'For the owner (or an admin): the row, the object and its thumbnails go.',
      params: IdParamsSchema,
      response: { 204: { ...NoContentSchema, description: 'Deleted' }, ...problemResponses(400, 403, 404, 503) }
    }
  }, async (request, reply) => {
    await files.delete(request.caller, request.params.id)
    return await reply.code(204).send(null)
  })
}
