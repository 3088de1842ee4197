import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, pageOf, UuidSchema } from '@holo/shared'

// `enum` rather than a union of literals: one validation error per bad value, not one per member.
export const EffectSchema = Type.Enum(
  ['rainbow', 'galaxy', 'cosmos', 'glitter', 'prism', 'none'],
  { description: 'Holographic effect' }
)
export const RaritySchema = Type.Enum(['common', 'uncommon', 'rare', 'epic', 'legendary'], { description: 'Rarity' })
export const VisibilitySchema = Type.Enum(['public', 'unlisted', 'private'], {
  description: 'public: listed and readable by anyone; unlisted: readable by id, never listed; ' +
    'private: owner (and admins) only'
})

export const HexColorSchema = Type.String({ pattern: '^#[0-9a-fA-F]{6}$', description: 'A hex color, #rrggbb' })

/** Every holo field optional: what a request or a template may set. */
export const HoloInputSchema = Type.Object({
  effect: Type.Optional(EffectSchema),
  intensity: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  angle: Type.Optional(Type.Number({ minimum: 0, maximum: 360 })),
  pattern: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
  colors: Type.Optional(Type.Array(HexColorSchema, { maxItems: 6 }))
}, { additionalProperties: false })
export type HoloInput = Static<typeof HoloInputSchema>

export const HoloSchema = Type.Object({
  effect: EffectSchema,
  intensity: Type.Number(),
  angle: Type.Number(),
  pattern: Type.Union([Type.String(), Type.Null()]),
  colors: Type.Array(Type.String())
})
export type Holo = Static<typeof HoloSchema>

export const TagSchema = Type.String({
  pattern: '^[A-Za-z0-9-]{1,32}$',
  description: '1–32 of [a-z0-9-]; stored in lower case'
})
const TagsSchema = Type.Array(TagSchema, { maxItems: 10 })
const TitleSchema = Type.String({ minLength: 1, maxLength: 120 })
const DescriptionSchema = Type.String({ maxLength: 2000 })
const ArtworkFileIdSchema = Type.String({
  format: 'uuid',
  description: 'A file of yours in the file service (admins: any file). Checked with the file service: ' +
    'a missing file or another user\'s is a 400 FILE_REFERENCE_INVALID; the file service down is a 503 naming `file`'
})
const TemplateIdSchema = Type.String({
  format: 'uuid',
  description: 'A published template (or a draft of yours); any other is a 400 TEMPLATE_NOT_USABLE'
})

export const CardSchema = Type.Object({
  id: UuidSchema,
  ownerId: UuidSchema,
  title: Type.String(),
  description: Type.String(),
  templateId: Type.Union([UuidSchema, Type.Null()]),
  artworkFileId: Type.Union([UuidSchema, Type.Null()]),
  holo: HoloSchema,
  rarity: RaritySchema,
  tags: Type.Array(Type.String()),
  visibility: VisibilitySchema,
  likeCount: Type.Integer(),
  hidden: Type.Boolean({ description: 'Hidden by moderation: only its owner and staff see it' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  likedByMe: Type.Optional(Type.Boolean({ description: 'Present for authenticated callers' }))
})
export type Card = Static<typeof CardSchema>

export const CreateCardSchema = Type.Object({
  title: TitleSchema,
  description: Type.Optional(DescriptionSchema),
  templateId: Type.Optional(TemplateIdSchema),
  artworkFileId: Type.Optional(ArtworkFileIdSchema),
  holo: Type.Optional(HoloInputSchema),
  rarity: Type.Optional(RaritySchema),
  tags: Type.Optional(TagsSchema),
  visibility: Type.Optional(VisibilitySchema)
}, {
  additionalProperties: false,
  examples: [{
    title: 'Nebula Fox',
    description: 'A fox made of stardust',
    holo: { effect: 'galaxy', intensity: 0.8, angle: 135, colors: ['#6a00ff', '#00e5ff'] },
    rarity: 'epic',
    tags: ['fox', 'space'],
    visibility: 'public'
  }]
})
export type CreateCard = Static<typeof CreateCardSchema>

export const UpdateCardSchema = Type.Object({
  title: Type.Optional(TitleSchema),
  description: Type.Optional(DescriptionSchema),
  artworkFileId: Type.Optional(Type.Union([ArtworkFileIdSchema, Type.Null()], {
    description: 'null takes the artwork off'
  })),
  holo: Type.Optional(HoloInputSchema),
  rarity: Type.Optional(RaritySchema),
  tags: Type.Optional(TagsSchema),
  visibility: Type.Optional(VisibilitySchema)
}, {
  additionalProperties: false,
  minProperties: 1,
  examples: [{ title: 'Nebula Fox II', holo: { intensity: 0.9 }, visibility: 'unlisted' }]
})
export type UpdateCard = Static<typeof UpdateCardSchema>

export const ListCardsQuerySchema = Type.Object({
  q: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'Full-text over title, tags and description; prefix and typo tolerant'
  })),
  tag: Type.Optional(TagSchema),
  rarity: Type.Optional(RaritySchema),
  effect: Type.Optional(EffectSchema),
  templateId: Type.Optional(UuidSchema),
  ownerId: Type.Optional(Type.Union([UuidSchema, Type.Literal('me')], {
    description: 'A user id, or `me` (with a token) to include your own unlisted and private cards'
  })),
  sort: Type.Optional(Type.Enum(['new', 'popular', 'relevance'], {
    description: 'new (default), popular, or relevance (default when q is given). relevance needs q: ' +
      'without q it is a 400 VALIDATION_FAILED naming sort'
  })),
  limit: Type.Optional(LimitSchema),
  cursor: Type.Optional(CursorSchema)
}, { additionalProperties: false })
export type ListCardsQuery = Static<typeof ListCardsQuerySchema>

export const CardPageSchema = pageOf(CardSchema)

export const IfMatchHeadersSchema = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'ETag from a previous read; 412 when the card changed since' }))
})
export const IfNoneMatchHeadersSchema = Type.Object({
  'if-none-match': Type.Optional(Type.String({ description: 'ETag from a previous read; 304 when unchanged' }))
})

export const HideCardSchema = Type.Object({
  reason: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 500,
    description: 'Why, for the owner (their notification) and the audit log'
  }))
}, {
  additionalProperties: false,
  description: 'Why the card is hidden; `{}` when there is none to give',
  examples: [{ reason: 'Spam: the same card posted forty times' }]
})
export type HideCard = Static<typeof HideCardSchema>
