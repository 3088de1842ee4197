// The audit service's error catalogue. The kit's `commonErrors` (UNAUTHORIZED, FORBIDDEN, INVALID_CURSOR, …) hold
// the codes every service shares.
import { defineErrors, fieldProblem, type ErrorCode } from '@holo/shared'

export const errors = defineErrors({
  INVALID_TIME: (field: 'from' | 'to') =>
    fieldProblem(field, 'querystring', 'must be an RFC 3339 time JavaScript can place (no leap seconds)'),
  INVALID_TIME_RANGE: () => fieldProblem('from', 'querystring', 'must not be later than to'),
  DEAD_LETTER_NOT_FOUND: (id: string) => ({ status: 404, detail: `No dead letter ${id}` }),
  DEAD_LETTER_AMBIGUOUS: (id: string) => ({
    status: 409,
    detail: `Dead letter ${id} exists in several consumer groups: name the group`
  })
})

export type AuditErrorCode = ErrorCode<typeof errors>
