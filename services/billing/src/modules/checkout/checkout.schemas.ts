import { Type, type Static } from 'typebox'
import { UuidSchema } from '@holo/shared'

export const CheckoutRequestSchema = Type.Union([
  Type.Object({ templateId: UuidSchema }, { additionalProperties: false, title: 'A premium template' }),
  Type.Object({ plan: Type.Literal('holo-plus') }, { additionalProperties: false, title: 'Holo+' })
], {
  description: 'What to buy: a premium template (at the price its author set, read by the server), or Holo+',
  examples: [{ templateId: '0190b6c5-8a4c-7cc0-8000-00000000c0de' }, { plan: 'holo-plus' }]
})
export type CheckoutRequest = Static<typeof CheckoutRequestSchema>

export const CheckoutSessionSchema = Type.Object({
  sessionId: Type.String({ description: 'The Stripe Checkout Session' }),
  url: Type.String({ description: 'Stripe\'s hosted payment page: send the buyer there' }),
  amount: Type.Integer({ description: 'What this checkout charges, in minor units (fixed when it started)' }),
  currency: Type.String({ pattern: '^[a-z]{3}$' }),
  expiresAt: Type.String({ format: 'date-time' })
})
export type CheckoutSession = Static<typeof CheckoutSessionSchema>
