// The live module's own problems (the kit's commonErrors hold UNAUTHORIZED, TOKEN_EXPIRED, SESSION_REVOKED).
import { defineErrors } from '@holo/shared'

export const liveErrors = defineErrors({
  STREAM_TICKET_INVALID: () => ({
    status: 401,
    detail: 'This stream ticket is not valid: tickets are single use and expire; ask for a new one',
    headers: { 'www-authenticate': 'Bearer' }
  })
})
