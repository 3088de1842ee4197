import { Type, type Static } from 'typebox'

export const GranularitySchema = Type.Enum(['hour', 'day'], {
  description: 'UTC hours or UTC days'
})

export const RangeQuerySchema = Type.Object({
  from: Type.Optional(Type.String({
    format: 'date-time',
    description: 'Start (inclusive; the series starts with the bucket holding it). Default: 30 days (by day) ' +
      'or 48 hours (by hour) before `to`'
  })),
  to: Type.Optional(Type.String({
    format: 'date-time',
    description: 'End (exclusive; the series ends with the bucket holding the instant before). Default: now'
  })),
  granularity: Type.Optional(GranularitySchema)
}, { additionalProperties: false })
export type RangeQuery = Static<typeof RangeQuerySchema>

export const PointSchema = Type.Object({
  t: Type.String({ format: 'date-time', description: 'Start of the bucket' }),
  value: Type.Number()
})
export type Point = Static<typeof PointSchema>

const Series = (description: string) => Type.Array(PointSchema, { description })

export const OverviewSchema = Type.Object({
  from: Type.String({ format: 'date-time', description: 'Start of the first bucket' }),
  to: Type.String({ format: 'date-time', description: 'End of the last bucket (exclusive)' }),
  granularity: GranularitySchema,
  series: Type.Object({
    signups: Series('Accounts registered (holo.user.registered.v1)'),
    logins: Series('Password logins (holo.user.logged_in.v1)'),
    activeUsers: Series('Distinct users who did anything (any event with an actor) in the bucket'),
    cardsCreated: Series('Cards created (holo.card.created.v1)'),
    likes: Series('Likes given (holo.card.liked.v1); likes taken back are in unlikes'),
    unlikes: Series('Likes taken back (holo.card.unliked.v1)'),
    views: Series('Card views counted by the card service, in the bucket where the counting window ended'),
    uploads: Series('Files uploaded (holo.file.uploaded.v1)'),
    bytesStored: Series('Bytes stored at the end of the bucket: all uploaded sizes minus deleted sizes so far'),
    payments: Series('Payments received (holo.payment.succeeded.v1: templates bought, Holo+ invoices paid)'),
    refunds: Series('Payments refunded (holo.payment.refunded.v1)')
  }),
  revenue: Type.Array(Type.Object({
    currency: Type.String({ pattern: '^[a-z]{3}$' }),
    gross: Series('Received, in minor units'),
    refunded: Series('Given back, in minor units'),
    net: Series('gross minus refunded')
  }), { description: 'Money by currency (amounts in minor units), one entry per currency seen in the range' })
})
export type Overview = Static<typeof OverviewSchema>
