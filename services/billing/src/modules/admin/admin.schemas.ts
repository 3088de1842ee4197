import { Type, type Static } from 'typebox'

const Time = Type.String({ format: 'date-time' })

export const RevenueQuerySchema = Type.Object({
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Start (inclusive); default 30 days ago' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'End (exclusive); default now' })),
  granularity: Type.Optional(Type.Enum(['hour', 'day', 'month'], { default: 'day' }))
}, { additionalProperties: false })
export type RevenueQuery = Static<typeof RevenueQuerySchema>

const Figures = {
  currency: Type.String({ pattern: '^[a-z]{3}$' }),
  payments: Type.Integer({ description: 'Payments received' }),
  refunds: Type.Integer({ description: 'Payments refunded' }),
  gross: Type.Integer({ description: 'Received, in minor units' }),
  refunded: Type.Integer({ description: 'Given back to buyers, in minor units' }),
  stripeFees: Type.Integer({ description: 'Stripe\'s fees, net of refunds' }),
  platform: Type.Integer({ description: 'The platform\'s share, net of refunds and Stripe\'s fees' }),
  authors: Type.Integer({ description: 'Authors\' earnings, net of refunds' })
}

export const RevenueSchema = Type.Object({
  from: Time,
  to: Time,
  granularity: Type.Enum(['hour', 'day', 'month']),
  series: Type.Array(Type.Object({ t: Time, ...Figures }), { description: 'Buckets with any activity, per currency' }),
  totals: Type.Array(Type.Object(Figures))
})
export type Revenue = Static<typeof RevenueSchema>
