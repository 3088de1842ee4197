import { defineErrors, type ErrorBody, type ErrorCode, fieldProblem, type RequestPart } from '@holo/shared'

/** A catalogue entry shaped as the kit's invalidField shapes a 400: `errors` names the one bad field. */
const badField = (field: string, where: RequestPart, message: string): ErrorBody => fieldProblem(field, where, message)

/**
 * Every code the card service raises besides the kit's `commonErrors` (UNAUTHORIZED, FORBIDDEN, NOT_OWNER,
 * INVALID_CURSOR, DEPENDENCY_UNAVAILABLE), which it uses as they are.
 */
export const errors = defineErrors({
  CARD_NOT_FOUND: () => ({ status: 404, detail: 'No such card' }),
  TEMPLATE_NOT_FOUND: () => ({ status: 404, detail: 'No such template' }),
  COLLECTION_NOT_FOUND: () => ({ status: 404, detail: 'No such collection' }),
  CARD_CHANGED: () => ({
    status: 412,
    detail: 'The card changed since you read it (If-Match does not match its ETag); read it again'
  }),
  COLLECTION_FULL: (max: number) => ({ status: 409, detail: `A collection holds at most ${max} cards` }),
  TEMPLATE_NOT_USABLE: () =>
    badField('templateId', 'body', 'names no template you can use (it must exist and be published)'),
  FILE_REFERENCE_INVALID: (foreign: boolean) => badField('artworkFileId', 'body', foreign
    ? 'names a file of another user; use one of your own'
    : 'names no file of yours (it must exist)'),
  /** A premium template without an entitlement: says what to buy. */
  ENTITLEMENT_REQUIRED: (templateId: string, price: { amount: number, currency: string } | null) => ({
    status: 403,
    detail: 'This template is premium: buy it' +
      (price === null ? '' : ` (${(price.amount / 100).toFixed(2)} ${price.currency.toUpperCase()})`) +
      ` with POST /api/v1/billing/checkout {"templateId":"${templateId}"}, or subscribe to Holo+ with ` +
      'POST /api/v1/billing/checkout {"plan":"holo-plus"}',
    extra: {
      templateId,
      price,
      buy: [
        ...(price === null ? [] : [{ templateId }]),
        { plan: 'holo-plus' }
      ]
    }
  }),
  REPORT_NOT_FOUND: () => ({ status: 404, detail: 'No such report' }),
  OWN_CARD_REPORTED: () => ({ status: 400, detail: 'You cannot report your own card' }),
  REPORT_ALREADY_OPEN: () => ({
    status: 409, detail: 'You reported this card already; your report is open until a moderator resolves it'
  }),
  REPORT_ALREADY_RESOLVED: () => ({ status: 409, detail: 'This report is resolved already' }),
  /** Input the schema cannot refuse by itself (e.g. `sort=relevance` without `q`). */
  VALIDATION_FAILED: (field: string, where: RequestPart, message: string) => badField(field, where, message)
})

export type CardErrorCode = ErrorCode<typeof errors>
