import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, pageOf, UuidSchema } from '@holo/shared'
import { CardSchema, VisibilitySchema } from '../cards/cards.schemas.js'

const fields = {
  id: UuidSchema,
  ownerId: UuidSchema,
  name: Type.String(),
  description: Type.String(),
  visibility: VisibilitySchema,
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' })
}

export const CollectionSummarySchema = Type.Object(fields)
export type CollectionSummary = Static<typeof CollectionSummarySchema>

export const CollectionSchema = Type.Object({
  ...fields,
  cards: Type.Array(CardSchema, { description: 'In order; only the cards you may see' })
})
export type Collection = Static<typeof CollectionSchema>

const NameSchema = Type.String({ minLength: 1, maxLength: 80 })
const DescriptionSchema = Type.String({ maxLength: 2000 })

export const CreateCollectionSchema = Type.Object({
  name: NameSchema,
  description: Type.Optional(DescriptionSchema),
  visibility: Type.Optional(VisibilitySchema)
}, {
  additionalProperties: false,
  examples: [{ name: 'Space favourites', description: 'Everything with stars', visibility: 'public' }]
})
export type CreateCollection = Static<typeof CreateCollectionSchema>

export const UpdateCollectionSchema = Type.Object({
  name: Type.Optional(NameSchema),
  description: Type.Optional(DescriptionSchema),
  visibility: Type.Optional(VisibilitySchema)
}, { additionalProperties: false, minProperties: 1, examples: [{ visibility: 'private' }] })
export type UpdateCollection = Static<typeof UpdateCollectionSchema>

export const PutCardBodySchema = Type.Union([
  Type.Object({
    position: Type.Optional(Type.Integer({
      minimum: 0,
      maximum: 999,
      description: '0-based; the end when left out or past it'
    }))
  }, { additionalProperties: false }),
  Type.Null()
], { examples: [{ position: 0 }] })

export const ListCollectionsQuerySchema = Type.Object({
  ownerId: Type.Optional(Type.Union([UuidSchema, Type.Literal('me')], {
    description: 'A user id, or `me` (with a token) for all of yours'
  })),
  limit: Type.Optional(LimitSchema),
  cursor: Type.Optional(CursorSchema)
}, { additionalProperties: false })
export type ListCollectionsQuery = Static<typeof ListCollectionsQuerySchema>

export const CollectionPageSchema = pageOf(CollectionSummarySchema)
export const CollectionCardParamsSchema = Type.Object({ id: UuidSchema, cardId: UuidSchema })
