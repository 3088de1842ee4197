import multipart from '@fastify/multipart'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { problemResponses, unauthorized, unsupportedMediaType, type AuthUser } from '@holo/shared'
import {
  BinarySchema, ContentQuerySchema, FileListSchema, FileParamsSchema, FileSchema, ListQuerySchema,
  SignedUrlSchema, ThumbnailQuerySchema, UploadBodySchema, UsageSchema, signedUrlQuerySchema
} from './files.schemas.js'
import { malformedMultipart } from '../../errors.js'
import type { Delivery, FilesService, UploadPart } from './files.service.js'
import type { ThumbnailWidth } from './image.js'

export interface FilesRoutesOptions {
  service: FilesService
  maxBytes: number
  /** FILE_SIGNED_URL_MAX_SECONDS, stated in the signed-url schema. */
  signedUrlMaxSeconds: number
}

const tags = ['files']
const bearer: Array<Record<string, string[]>> = [{ bearerAuth: [] }]
/** Public files need no token; private ones do. */
const optionalBearer: Array<Record<string, string[]>> = [{ bearerAuth: [] }, {}]
const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'image/avif']

const binary = (description: string) => ({
  description,
  content: Object.fromEntries(IMAGE_TYPES.map((t) => [t, { schema: BinarySchema }]))
})
const notModified = { description: 'Not Modified: the ETag in If-None-Match still holds', type: 'null' }

function userOf (request: { user: AuthUser | null }): AuthUser {
  if (request.user === null) throw unauthorized()
  return request.user
}

/** The boundary parameter of a multipart Content-Type; busboy would take an empty one and split on bare `--`. */
function hasBoundary (contentType: string | undefined): boolean {
  const m = /;\s*boundary=(?:"([^"]*)"|([^;\s]*))/i.exec(contentType ?? '')
  return (m?.[1] ?? m?.[2] ?? '') !== ''
}

function deliver (reply: FastifyReply, d: Delivery): FastifyReply {
  reply.code(d.status).headers(d.headers)
  return d.body === undefined ? reply.send() : reply.send(d.body)
}

export const filesRoutes: FastifyPluginAsyncTypebox<FilesRoutesOptions> = async (app, options) => {
  const { service, maxBytes, signedUrlMaxSeconds } = options
  await app.register(multipart, {
    // One file and a few short fields; the service also counts the bytes itself.
    limits: { fileSize: maxBytes, files: 1, fields: 4, parts: 5, fieldSize: 256, headerPairs: 50 }
  })

  app.post('/api/v1/files', {
    preHandler: app.authenticate,
    // The body is a stream the service reads and checks part by part; the schema documents it.
    validatorCompiler: () => () => true,
    schema: {
      tags,
      operationId: 'uploadFile',
      summary: 'Upload an image',
      description: 'Streams one image (part `file`) to storage. The type is decided by the bytes; ' +
        'metadata is stripped. The same bytes uploaded again by the same user return the existing file with 200. ' +
        'A malformed body (truncated, no boundary, broken part headers, no part at all) is a 400 ' +
        'MALFORMED_MULTIPART; no part named `file` is a 400 FILE_MISSING; a bad `purpose` or `visibility` ' +
        'a 400 INVALID_FIELD.',
      security: bearer,
      consumes: ['multipart/form-data'],
      body: UploadBodySchema,
      response: {
        200: { ...FileSchema, description: 'The same user had already uploaded these bytes: the existing file' },
        201: { ...FileSchema, description: 'The new file' },
        ...problemResponses(400, 401, 413, 415, 422, 503)
      }
    }
  }, async (request, reply) => {
    const user = userOf(request)
    if (!request.isMultipart()) throw unsupportedMediaType('The body must be multipart/form-data with a part named "file"')
    if (!hasBoundary(request.headers['content-type'])) {
      throw malformedMultipart('its Content-Type has no boundary parameter')
    }
    const { file, created } = await service.upload(user, request.parts() as AsyncIterable<UploadPart>)
    return await reply.code(created ? 201 : 200).send(file)
  })

  app.get('/api/v1/files', {
    preHandler: app.authenticate,
    schema: {
      tags,
      summary: 'List files',
      description: 'The caller\'s files, newest first; admins may list another user\'s.',
      security: bearer,
      querystring: ListQuerySchema,
      response: {
        200: { ...FileListSchema, description: 'A page of the files, newest first' },
        ...problemResponses(400, 401, 403, 503)
      }
    }
  }, async (request) => await service.list(userOf(request), request.query))

  app.get('/api/v1/files/usage', {
    preHandler: app.authenticate,
    schema: {
      tags,
      summary: 'Storage used and quota',
      security: bearer,
      response: { 200: { ...UsageSchema, description: 'Bytes stored and the quota' }, ...problemResponses(401, 503) }
    }
  }, async (request) => await service.usage(userOf(request)))

  app.get('/api/v1/files/:id', {
    schema: {
      tags,
      summary: 'File metadata',
      description: 'Private files of others answer 404.',
      security: optionalBearer,
      params: FileParamsSchema,
      response: { 200: { ...FileSchema, description: 'The file\'s metadata' }, ...problemResponses(400, 401, 404, 503) }
    }
  }, async (request) => await service.get(request.user, request.params.id))

  app.get('/api/v1/files/:id/ownership', {
    preHandler: app.authenticate,
    schema: {
      tags,
      operationId: 'checkFileOwnership',
      summary: 'May the caller use this file in their own records?',
      description: 'Other services ask this with the caller\'s token before they store a reference to a file ' +
        '(a card\'s artwork, an avatar). 204 when the caller owns the file or is an admin; another user\'s ' +
        'public file is a 403 NOT_FILE_OWNER; a missing file, or another user\'s private one, a 404 FILE_NOT_FOUND.',
      security: bearer,
      params: FileParamsSchema,
      response: {
        204: { description: 'The caller may use the file', type: 'null' },
        ...problemResponses(400, 401, 403, 404, 503)
      }
    }
  }, async (request, reply) => {
    await service.checkOwnership(userOf(request), request.params.id)
    return await reply.code(204).send(null)
  })

  app.get('/api/v1/files/:id/content', {
    schema: {
      tags,
      summary: 'File content',
      description: 'The stored bytes, with Range support (one range). Works without a token for public files and with `expires` and `sig` from a signed URL.',
      security: optionalBearer,
      params: FileParamsSchema,
      querystring: ContentQuerySchema,
      headers: Type.Object({ range: Type.Optional(Type.String()), 'if-none-match': Type.Optional(Type.String()) }),
      response: {
        200: binary('The whole file'),
        206: binary('The requested range'),
        304: notModified,
        ...problemResponses(400, 401, 403, 404, 416, 503)
      }
    }
  }, async (request, reply) => {
    const { download, ...signature } = request.query
    return deliver(reply, await service.content(request.user, request.params.id, signature, {
      range: request.headers.range,
      ifNoneMatch: request.headers['if-none-match'],
      download
    }))
  })

  app.get('/api/v1/files/:id/thumbnail', {
    schema: {
      tags,
      summary: 'WebP thumbnail',
      description: 'Made on first request, then served from storage.',
      security: optionalBearer,
      params: FileParamsSchema,
      querystring: ThumbnailQuerySchema,
      response: {
        200: { description: 'The thumbnail', content: { 'image/webp': { schema: BinarySchema } } },
        304: notModified,
        ...problemResponses(400, 401, 403, 404, 503)
      }
    }
  }, async (request, reply) => {
    const { w, ...signature } = request.query
    return deliver(reply, await service.thumbnail(request.user, request.params.id, w as ThumbnailWidth, signature, {
      ifNoneMatch: request.headers['if-none-match']
    }))
  })

  app.get('/api/v1/files/:id/signed-url', {
    preHandler: app.authenticate,
    schema: {
      tags,
      summary: 'A time-limited URL that works without a token',
      description: 'For the owner (or an admin). The URL goes through the gateway; ' +
        'the file service checks its signature. ' +
        `\`expiresIn\` over ${signedUrlMaxSeconds} seconds is a 400 naming it; another user's public file is a 403, ` +
        'their private one a 404.',
      security: bearer,
      params: FileParamsSchema,
      querystring: signedUrlQuerySchema(signedUrlMaxSeconds),
      response: {
        200: { ...SignedUrlSchema, description: 'The URL and when it stops working' },
        ...problemResponses(400, 401, 403, 404, 503)
      }
    }
  }, async (request) => await service.signedUrl(userOf(request), request.params.id, request.query.expiresIn, request.query.w as ThumbnailWidth | undefined))

  app.delete('/api/v1/files/:id', {
    preHandler: app.authenticate,
    schema: {
      tags,
      summary: 'Delete a file',
      description: 'For the owner (or an admin): the row, the object and its thumbnails go.',
      security: bearer,
      params: FileParamsSchema,
      response: { 204: { description: 'Deleted', type: 'null' }, ...problemResponses(400, 401, 403, 404, 503) }
    }
  }, async (request, reply) => {
    await service.delete(userOf(request), request.params.id)
    return await reply.code(204).send(null)
  })
}
