import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, pageOf, UuidSchema } from '@holo/shared'

const Product = Type.Enum(['template', 'holo-plus'], { description: 'A premium template, or Holo+' })
const Currency = Type.String({ pattern: '^[a-z]{3}$', description: 'ISO 4217, lower case' })
const Time = Type.String({ format: 'date-time' })
const NullableTime = Type.Union([Time, Type.Null()])
const Amount = (description: string) => Type.Integer({ description: `${description}, in minor units` })

export const EntitlementSchema = Type.Object({
  id: UuidSchema,
  product: Product,
  templateId: Type.Union([UuidSchema, Type.Null()], { description: 'null for Holo+ (every premium template)' }),
  active: Type.Boolean({ description: 'In force now' }),
  validUntil: Type.Union([Time, Type.Null()], { description: 'When it ends; null: it does not (a purchase)' }),
  revokedAt: NullableTime,
  revokedReason: Type.Union([Type.String(), Type.Null()]),
  createdAt: Time
})
export type Entitlement = Static<typeof EntitlementSchema>

export const SubscriptionSchema = Type.Object({
  id: UuidSchema,
  status: Type.String({ description: 'Stripe\'s status: active, past_due, canceled, …' }),
  currentPeriodEnd: NullableTime,
  cancelAtPeriodEnd: Type.Boolean()
})

export const EntitlementsSchema = Type.Object({
  items: Type.Array(EntitlementSchema),
  subscriptions: Type.Array(SubscriptionSchema)
})

export const PurchaseSchema = Type.Object({
  id: UuidSchema,
  product: Product,
  templateId: Type.Union([UuidSchema, Type.Null()]),
  amount: Amount('What was paid'),
  currency: Currency,
  status: Type.Enum(['succeeded', 'refunded']),
  createdAt: Time,
  refundedAt: NullableTime
})
export type Purchase = Static<typeof PurchaseSchema>
export const PurchasePageSchema = pageOf(PurchaseSchema)

export const PurchasesQuerySchema = Type.Object({
  limit: Type.Optional(LimitSchema),
  cursor: Type.Optional(CursorSchema)
}, { additionalProperties: false })
export type PurchasesQuery = Static<typeof PurchasesQuerySchema>

export const PortalSchema = Type.Object({ url: Type.String({ description: 'Stripe\'s customer portal for you' }) })

export const EarningsSchema = Type.Object({
  totals: Type.Array(Type.Object({
    currency: Currency,
    gross: Amount('Paid by buyers, less refunds'),
    platformFee: Amount('The platform\'s share'),
    stripeFee: Amount('Stripe\'s fees where known'),
    net: Amount('Your earnings'),
    sales: Type.Integer(),
    refunds: Type.Integer()
  })),
  entries: Type.Array(Type.Object({
    paymentId: UuidSchema,
    kind: Type.Enum(['sale', 'refund']),
    templateId: Type.Union([UuidSchema, Type.Null()]),
    currency: Currency,
    gross: Type.Integer(),
    platformFee: Type.Integer(),
    stripeFee: Type.Union([Type.Integer(), Type.Null()]),
    net: Type.Integer(),
    createdAt: Time
  }), { description: 'Your ledger lines, newest first (at most 100); a refund\'s are the sale\'s negated' })
})
export type Earnings = Static<typeof EarningsSchema>
