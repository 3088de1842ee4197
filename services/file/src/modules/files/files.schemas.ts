import { Type, type Static, type TSchemaOptions } from 'typebox'
import { CursorSchema, LimitSchema, UuidSchema, pageOf } from '@holo/shared'
import { THUMBNAIL_WIDTHS } from './image.js'

export const PURPOSES = ['artwork', 'avatar', 'template'] as const
export const VISIBILITIES = ['public', 'private'] as const
const literals = <T extends readonly string[]>(values: T, o: TSchemaOptions = {}) =>
  Type.Union(values.map((v) => Type.Literal(v)), o)

export const PurposeSchema = literals(PURPOSES, { description: 'What the image is for' })
export const VisibilitySchema = literals(VISIBILITIES, {
  description: 'public: anyone may read it; private: only its owner and admins'
})

export const FileSchema = Type.Object({
  id: UuidSchema,
  ownerId: UuidSchema,
  purpose: PurposeSchema,
  visibility: VisibilitySchema,
  filename: Type.String({ description: 'The client\'s filename, sanitised; metadata only' }),
  contentType: Type.String({ description: 'Decided from the bytes' }),
  size: Type.Integer({ description: 'Bytes stored (after metadata was stripped)' }),
  sha256: Type.String({
    pattern: '^[0-9a-f]{64}$',
    description: 'SHA-256 of the uploaded bytes; the same owner uploading the same bytes gets the same file'
  }),
  width: Type.Union([Type.Integer(), Type.Null()]),
  height: Type.Union([Type.Integer(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  url: Type.String({ description: 'The content; needs a token when the file is private' }),
  thumbnailUrl: Type.String()
})
export type FileView = Static<typeof FileSchema>

export const UploadBodySchema = Type.Object({
  file: Type.String({ format: 'binary', description: 'The image: PNG, JPEG, WebP, GIF or AVIF' }),
  purpose: Type.Optional(PurposeSchema),
  visibility: Type.Optional(VisibilitySchema)
}, {
  description: 'multipart/form-data; the body is streamed, so put the fields before the file part when you can',
  // Documentation only: the route reads the parts itself, no validator runs on this body.
  examples: [{ purpose: 'artwork', visibility: 'public', file: '(the image bytes, e.g. card.png sent as image/png)' }]
})

export const SignatureQuerySchema = {
  expires: Type.Optional(Type.Integer({ minimum: 0, description: 'From a signed URL: expiry, Unix seconds' })),
  sig: Type.Optional(Type.String({
    maxLength: 128,
    pattern: '^[A-Za-z0-9_-]+$',
    description: 'From a signed URL: the signature'
  }))
}
export const ContentQuerySchema = Type.Object({
  ...SignatureQuerySchema,
  download: Type.Optional(Type.Boolean({
    description: 'true: Content-Disposition attachment (save as) instead of inline'
  }))
})

export const ThumbnailQuerySchema = Type.Object({
  w: Type.Integer({
    enum: [...THUMBNAIL_WIDTHS],
    default: 256,
    description: `Width in pixels: one of ${THUMBNAIL_WIDTHS.join(', ')}`
  }),
  ...SignatureQuerySchema
})

/** The signed-URL query; its maximum comes from FILE_SIGNED_URL_MAX_SECONDS, so the document states the real limit. */
export const signedUrlQuerySchema = (maxSeconds: number) => Type.Object({
  expiresIn: Type.Integer({
    minimum: 1,
    maximum: maxSeconds,
    default: Math.min(3600, maxSeconds),
    description: `Seconds the URL stays valid: at most ${maxSeconds} (FILE_SIGNED_URL_MAX_SECONDS)`
  }),
  w: Type.Optional(Type.Integer({
    enum: [...THUMBNAIL_WIDTHS],
    description: 'Sign a thumbnail of this width instead of the original'
  }))
})
export const SignedUrlSchema = Type.Object({
  url: Type.String({ description: 'Works without a token until expiresAt' }),
  expiresAt: Type.String({ format: 'date-time' })
})

export const ListQuerySchema = Type.Object({
  ownerId: Type.Union([Type.Literal('me'), UuidSchema], {
    default: 'me',
    description: '"me", or another user\'s id (admins only)'
  }),
  purpose: Type.Optional(PurposeSchema),
  cursor: Type.Optional(CursorSchema),
  limit: LimitSchema
})
export const FileListSchema = pageOf(FileSchema)

export const UsageSchema = Type.Object({
  used: Type.Integer({ description: 'Bytes stored' }),
  quota: Type.Union([Type.Integer(), Type.Null()], { description: 'Bytes allowed; null means unlimited' })
})

/** Binary responses, for the OpenAPI document. */
export const BinarySchema = Type.String({ format: 'binary' })

/** The OpenAPI tag of every route of the service. */
export const tags = ['files']
