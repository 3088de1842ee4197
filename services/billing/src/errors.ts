// The billing service's error catalogue. The kit's `commonErrors` (UNAUTHORIZED, FORBIDDEN, DEPENDENCY_UNAVAILABLE…)
// hold the codes every service shares.
import { defineErrors, fieldProblem, type ErrorCode, type RequestPart } from '@holo/shared'

export const errors = defineErrors({
  TEMPLATE_NOT_FOUND: () => ({ status: 404, detail: 'No such template' }),
  TEMPLATE_NOT_FOR_SALE: (why: string) => ({
    status: 400,
    detail: `This template cannot be bought: ${why}`,
    extra: { errors: [{ field: 'templateId', in: 'body', message: why }] }
  }),
  ALREADY_OWNED: (what: string) => ({ status: 409, detail: `You already have ${what}` }),
  PURCHASE_NOT_FOUND: () => ({ status: 404, detail: 'No such purchase of yours' }),
  PAYMENT_NOT_FOUND: () => ({ status: 404, detail: 'No such payment' }),
  ALREADY_REFUNDED: () => ({ status: 409, detail: 'This payment has been refunded already' }),
  NO_BILLING_ACCOUNT: () => ({
    status: 404,
    detail: 'You have no billing account yet: it is made by your first checkout'
  }),
  /** Stripe refused the request the service made (a configuration problem, never the caller's input). */
  STRIPE_REFUSED: (message: string) => ({ status: 502, detail: `Stripe refused the request: ${message}` }),
  WEBHOOK_SIGNATURE_INVALID: (why: string) => ({
    status: 400,
    detail: `The Stripe-Signature header does not verify: ${why}`,
    extra: { errors: [{ field: 'stripe-signature', in: 'headers', message: why }] }
  }),
  WEBHOOK_PAYLOAD_INVALID: (why: string) => ({ status: 400, detail: `The webhook body is not a Stripe event: ${why}` }),
  /** Input the schema cannot refuse by itself (from after to, a range of too many buckets). */
  VALIDATION_FAILED: (field: string, where: RequestPart, message: string) => fieldProblem(field, where, message)
})

export type BillingErrorCode = ErrorCode<typeof errors>
