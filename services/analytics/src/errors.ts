// The analytics service's error catalogue. The kit's `commonErrors` (UNAUTHORIZED, FORBIDDEN, …) hold the codes
// every service shares.
import { defineErrors, fieldProblem, type ErrorCode, type RequestPart } from '@holo/shared'

export const errors = defineErrors({
  CARD_NOT_FOUND: () => ({ status: 404, detail: 'No such card, or not one of yours' }),
  /** Input the schema cannot refuse by itself (from after to, a range of too many buckets). */
  VALIDATION_FAILED: (field: string, where: RequestPart, message: string) => fieldProblem(field, where, message),
  RANGE_TOO_LARGE: (buckets: number, granularity: string, limit: number) => {
    const message = `spans ${buckets} ${granularity} buckets with to; at most ${limit} are allowed`
    return {
      status: 400,
      detail: `The range from..to spans ${buckets} ${granularity} buckets; at most ${limit} are allowed ` +
        '(narrow the range or use a coarser granularity)',
      extra: { errors: [{ field: 'from', in: 'querystring', message }], limit }
    }
  }
})

export type AnalyticsErrorCode = ErrorCode<typeof errors>
