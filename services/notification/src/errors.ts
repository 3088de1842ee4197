// The notification service's error catalogue. The kit's `commonErrors` (UNAUTHORIZED, INVALID_CURSOR, …) hold
// the codes every service shares.
import { defineErrors, fieldProblem, type ErrorCode } from '@holo/shared'

export const errors = defineErrors({
  NOTIFICATION_NOT_FOUND: () => ({ status: 404, detail: 'No such notification in your inbox' }),
  SECURITY_EMAIL_REQUIRED: (type: string) => ({
    ...fieldProblem(`types.${type}.email`, 'body', 'cannot be turned off: security notifications are always mailed'),
    detail: `Mail about ${type} cannot be turned off: security notifications are always mailed`
  }),
  INVALID_UNSUBSCRIBE_TOKEN: () => ({
    status: 400,
    detail: 'This unsubscribe link is not valid (it may have been cut or changed); use the link of a recent mail',
    extra: { errors: [{ field: 'token', in: 'querystring', message: 'is not a valid unsubscribe token' }] }
  })
})

export type NotificationErrorCode = ErrorCode<typeof errors>
