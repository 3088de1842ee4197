import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, pageOf, UuidSchema } from '@holo/shared'
import { HexColorSchema, HoloInputSchema } from '../cards/cards.schemas.js'

/** A box on the card face, in fractions of its width and height. */
const BoxSchema = Type.Object({
  x: Type.Number({ minimum: 0, maximum: 1 }),
  y: Type.Number({ minimum: 0, maximum: 1 }),
  width: Type.Number({ minimum: 0, maximum: 1 }),
  height: Type.Number({ minimum: 0, maximum: 1 })
}, { additionalProperties: false })

export const LayoutSchema = Type.Object({
  frame: Type.Object({
    style: Type.Enum(['classic', 'full-art', 'borderless', 'retro']),
    color: HexColorSchema,
    borderWidth: Type.Number({ minimum: 0, maximum: 64, description: 'Pixels at 1x' })
  }, { additionalProperties: false }),
  fonts: Type.Object({
    title: Type.String({ minLength: 1, maxLength: 64 }),
    body: Type.String({ minLength: 1, maxLength: 64 })
  }, { additionalProperties: false }),
  positions: Type.Object({
    title: BoxSchema,
    artwork: BoxSchema,
    description: BoxSchema,
    rarity: Type.Optional(BoxSchema)
  }, { additionalProperties: false })
}, { additionalProperties: false, description: 'Where things go on the card face' })

export const TemplateStatusSchema = Type.Enum(['draft', 'published', 'archived'], {
  description: 'Only published templates are listed and usable by everyone'
})

export const PriceSchema = Type.Object({
  amount: Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'In minor units of the currency (cents)' }),
  currency: Type.String({ pattern: '^[a-z]{3}$', description: 'ISO 4217 code in lower case, e.g. eur' })
}, { additionalProperties: false, description: 'What a premium template costs' })
export type Price = Static<typeof PriceSchema>

export const TemplateSchema = Type.Object({
  id: UuidSchema,
  authorId: UuidSchema,
  name: Type.String(),
  description: Type.String(),
  layout: LayoutSchema,
  holoDefaults: HoloInputSchema,
  status: TemplateStatusSchema,
  premium: Type.Boolean({ description: 'Usable only with an entitlement: bought, or Holo+ (docs/billing.md)' }),
  price: Type.Union([PriceSchema, Type.Null()], { description: 'The price of a premium template; null: not for sale' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' })
})
export type Template = Static<typeof TemplateSchema>

const NameSchema = Type.String({ minLength: 1, maxLength: 80 })
const DescriptionSchema = Type.String({ maxLength: 2000 })
export const TemplateExample = {
  name: 'Cosmic Classic',
  description: 'A classic frame with a galaxy shimmer',
  layout: {
    frame: { style: 'classic', color: '#222244', borderWidth: 12 },
    fonts: { title: 'Orbitron', body: 'Inter' },
    positions: {
      title: { x: 0.05, y: 0.03, width: 0.9, height: 0.08 },
      artwork: { x: 0.05, y: 0.12, width: 0.9, height: 0.5 },
      description: { x: 0.05, y: 0.65, width: 0.9, height: 0.3 }
    }
  },
  holoDefaults: { effect: 'galaxy', intensity: 0.7, angle: 45 },
  status: 'published'
}

export const CreateTemplateSchema = Type.Object({
  name: NameSchema,
  description: Type.Optional(DescriptionSchema),
  layout: LayoutSchema,
  holoDefaults: Type.Optional(HoloInputSchema),
  status: Type.Optional(Type.Enum(['draft', 'published'])),
  premium: Type.Optional(Type.Boolean()),
  price: Type.Optional(Type.Union([PriceSchema, Type.Null()], { description: 'Only with premium: true' }))
}, { additionalProperties: false, examples: [TemplateExample] })
export type CreateTemplate = Static<typeof CreateTemplateSchema>

export const UpdateTemplateSchema = Type.Object({
  name: Type.Optional(NameSchema),
  description: Type.Optional(DescriptionSchema),
  layout: Type.Optional(LayoutSchema),
  holoDefaults: Type.Optional(HoloInputSchema),
  status: Type.Optional(TemplateStatusSchema),
  premium: Type.Optional(Type.Boolean({ description: 'false also takes the price off' })),
  price: Type.Optional(Type.Union([PriceSchema, Type.Null()], {
    description: 'The price of a premium template (null takes it off); a checkout already started keeps its price'
  }))
}, { additionalProperties: false, minProperties: 1, examples: [{ status: 'published' }, { premium: true, price: { amount: 499, currency: 'eur' } }] })
export type UpdateTemplate = Static<typeof UpdateTemplateSchema>

export const ListTemplatesQuerySchema = Type.Object({
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 80, description: 'Part of the name' })),
  status: Type.Optional(TemplateStatusSchema),
  authorId: Type.Optional(Type.Union([UuidSchema, Type.Literal('me')])),
  limit: Type.Optional(LimitSchema),
  cursor: Type.Optional(CursorSchema)
}, { additionalProperties: false })
export type ListTemplatesQuery = Static<typeof ListTemplatesQuerySchema>

export const TemplatePageSchema = pageOf(TemplateSchema)
