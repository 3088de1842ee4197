import multipart from '@fastify/multipart'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '@holo/shared'
import { errors } from '../../errors.js'
import { FileSchema, UploadBodySchema, UsageSchema, tags } from './files.schemas.js'
import type { UploadPart, UploadsService } from './uploads.service.js'

export interface UploadsRoutesOptions {
  uploads: UploadsService
  /** FILE_MAX_BYTES, also the multipart parser's limit. */
  maxBytes: number
}

/** The boundary parameter of a multipart Content-Type; busboy would take an empty one and split on bare `--`. */
function hasBoundary (contentType: string | undefined): boolean {
  const m = /;\s*boundary=(?:"([^"]*)"|([^;\s]*))/i.exec(contentType ?? '')
  return (m?.[1] ?? m?.[2] ?? '') !== ''
}

export const uploadsRoutes: FastifyPluginAsyncTypebox<UploadsRoutesOptions> = async (app, { uploads, maxBytes }) => {
  await app.register(multipart, {
    // One file and a few short fields; the service also counts the bytes itself.
    limits: { fileSize: maxBytes, files: 1, fields: 4, parts: 5, fieldSize: 256, headerPairs: 50 }
  })

  app.post('/api/v1/files', {
    config: { auth: 'required' },
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
      consumes: ['multipart/form-data'],
      body: UploadBodySchema,
      response: {
        200: { ...FileSchema, description: 'The same user had already uploaded these bytes: the existing file' },
        201: { ...FileSchema, description: 'The new file' },
        ...problemResponses(400, 413, 415, 422, 503)
      }
    }
  }, async (request, reply) => {
    if (!request.isMultipart()) throw errors.UNSUPPORTED_MEDIA_TYPE()
    if (!hasBoundary(request.headers['content-type'])) {
      throw errors.MALFORMED_MULTIPART('its Content-Type has no boundary parameter')
    }
    const { file, created } = await uploads.upload(request.caller, request.parts() as AsyncIterable<UploadPart>)
    return await reply.code(created ? 201 : 200).send(file)
  })

  app.get('/api/v1/files/usage', {
    config: { auth: 'required' },
    schema: {
      tags,
      summary: 'Storage used and quota',
      response: { 200: { ...UsageSchema, description: 'Bytes stored and the quota' }, ...problemResponses(503) }
    }
  }, async (request) => await uploads.usage(request.caller))
}
