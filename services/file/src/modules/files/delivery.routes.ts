import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { IdParamsSchema, NotModifiedSchema, noneMatch, notModified, problemResponses } from '@holo/shared'
import { errors } from '../../errors.js'
import type { Access, Bytes, DeliveryService, Variant } from './delivery.service.js'
import { contentDisposition } from './filename.js'
import {
  BinarySchema, ContentQuerySchema, SignedUrlSchema, ThumbnailQuerySchema, signedUrlQuerySchema, tags
} from './files.schemas.js'
import { parseRange } from './http-range.js'
import type { ThumbnailWidth } from './image.js'

export interface DeliveryRoutesOptions {
  delivery: DeliveryService
  /** FILE_SIGNED_URL_MAX_SECONDS, stated in the signed-url schema. */
  signedUrlMaxSeconds: number
}

const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'image/avif']

const binary = (description: string) => ({
  description,
  content: Object.fromEntries(IMAGE_TYPES.map((t) => [t, { schema: BinarySchema }]))
})

/** Public files may be cached by anyone; private ones by the reader only, and a signed URL's until it expires. */
function cacheControlOf (access: Access): string {
  switch (access.kind) {
    case 'public': return 'public, max-age=3600'
    case 'private': return 'private, no-cache'
    case 'signed': return `private, max-age=${Math.min(access.secondsLeft, 3600)}`
  }
}

interface Sending { disposition: 'inline' | 'attachment', acceptRanges?: boolean }

/**
 * Answers 304 when the client's copy (If-None-Match) is current, else sends what `read` gives. Storage is read
 * only for the latter, and the headers describing the bytes are set once they are there: an error on the way
 * (416, 404, 503) carries none of them.
 */
async function send (
  request: FastifyRequest,
  reply: FastifyReply,
  v: Omit<Variant, 'read'>,
  how: Sending,
  read: () => Promise<Bytes>
): Promise<FastifyReply> {
  const validators = { etag: `"${v.version}"`, cacheControl: cacheControlOf(v.access) }
  const bytes = noneMatch(request.headers['if-none-match'], validators.etag) ? null : await read()
  reply.header('content-type', v.contentType)
    .header('content-disposition', contentDisposition(v.filename, how.disposition))
    // The bytes are the client's: never sniffed, never run as a page.
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; sandbox")
    .header('last-modified', v.file.createdAt.toUTCString())
  if (how.acceptRanges === true) reply.header('accept-ranges', 'bytes')
  if (notModified(request, reply, validators) || bytes === null) return reply
  return await reply.header('content-length', String(bytes.size)).send(bytes.body)
}

export const deliveryRoutes: FastifyPluginAsyncTypebox<DeliveryRoutesOptions> = async (app, options) => {
  const { delivery, signedUrlMaxSeconds } = options

  app.get('/api/v1/files/:id/content', {
    config: { auth: 'optional' },
    schema: {
      tags,
      summary: 'File content',
      description: 'The stored bytes, with Range support (one range). Works without a token for public files ' +
        'and with `expires` and `sig` from a signed URL.',
      params: IdParamsSchema,
      querystring: ContentQuerySchema,
      headers: Type.Object({ range: Type.Optional(Type.String()), 'if-none-match': Type.Optional(Type.String()) }),
      response: {
        200: binary('The whole file'),
        206: binary('The requested range'),
        304: NotModifiedSchema,
        ...problemResponses(400, 403, 404, 416, 503)
      }
    }
  }, async (request, reply) => {
    const { download, ...signature } = request.query
    const original = await delivery.original(request.viewer, request.params.id, signature)
    const { size } = original.file
    const how: Sending = { disposition: download === true ? 'attachment' : 'inline', acceptRanges: true }
    return await send(request, reply, original, how, async () => {
      const range = parseRange(request.headers.range, size)
      if (range === 'unsatisfiable') throw errors.RANGE_NOT_SATISFIABLE(size)
      const bytes = await original.read(range)
      if (range !== undefined) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`)
      return bytes
    })
  })

  app.get('/api/v1/files/:id/thumbnail', {
    config: { auth: 'optional' },
    schema: {
      tags,
      summary: 'WebP thumbnail',
      description: 'Made on first request, then served from storage.',
      params: IdParamsSchema,
      querystring: ThumbnailQuerySchema,
      response: {
        200: { description: 'The thumbnail', content: { 'image/webp': { schema: BinarySchema } } },
        304: NotModifiedSchema,
        ...problemResponses(400, 403, 404, 503)
      }
    }
  }, async (request, reply) => {
    const { w, ...signature } = request.query
    const thumbnail = await delivery.thumbnail(request.viewer, request.params.id, w as ThumbnailWidth, signature)
    return await send(request, reply, thumbnail, { disposition: 'inline' }, thumbnail.read)
  })

  app.get('/api/v1/files/:id/signed-url', {
    config: { auth: 'required' },
    schema: {
      tags,
      summary: 'A time-limited URL that works without a token',
      description: 'For the owner (or an admin). The URL goes through the gateway; ' +
        'the file service checks its signature. ' +
        `\`expiresIn\` over ${signedUrlMaxSeconds} seconds is a 400 naming it; another user's public file is a 403, ` +
        'their private one a 404.',
      params: IdParamsSchema,
      querystring: signedUrlQuerySchema(signedUrlMaxSeconds),
      response: {
        200: { ...SignedUrlSchema, description: 'The URL and when it stops working' },
        ...problemResponses(400, 403, 404, 503)
      }
    }
  }, async (request) => {
    const { expiresIn, w } = request.query
    return await delivery.signedUrl(request.caller, request.params.id, expiresIn, w as ThumbnailWidth | undefined)
  })
}
