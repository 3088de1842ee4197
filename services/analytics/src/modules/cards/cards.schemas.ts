import { Type, type Static } from 'typebox'
import { UuidSchema } from '@holo/shared'
import { PointSchema } from '../overview/overview.schemas.js'

export const TopMetricSchema = Type.Enum(['likes', 'views'])
export type TopMetric = Static<typeof TopMetricSchema>
export const TopWindowSchema = Type.Enum(['24h', '7d', '30d'])
export type TopWindow = Static<typeof TopWindowSchema>

export const TopQuerySchema = Type.Object({
  metric: Type.Optional({ ...TopMetricSchema, default: 'likes', description: 'Rank by likes (net) or views' }),
  window: Type.Optional({
    ...TopWindowSchema, default: '7d', description: 'The last 24 hours, 7 days or 30 days (whole UTC hours)'
  }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 }))
}, { additionalProperties: false })
export type TopQuery = Static<typeof TopQuerySchema>

export const TopItemSchema = Type.Object({
  cardId: UuidSchema,
  value: Type.Number({ description: 'Views, or likes given minus likes taken back, in the window' })
})
export type TopItem = Static<typeof TopItemSchema>

export const TopListSchema = Type.Object({ items: Type.Array(TopItemSchema) })
export type TopList = Static<typeof TopListSchema>

export const CardStatsSchema = Type.Object({
  cardId: UuidSchema,
  totals: Type.Object({
    views: Type.Number({ description: 'Views in the range' }),
    likes: Type.Number({ description: 'Likes given minus likes taken back in the range' })
  }),
  views: Type.Array(PointSchema, { description: 'Views per bucket' }),
  likes: Type.Array(PointSchema, { description: 'Likes given minus likes taken back per bucket (may be negative)' })
})
export type CardStats = Static<typeof CardStatsSchema>
