// The auth service's error catalogue: every code it raises besides the kit's `commonErrors`.
import { defineErrors, fieldProblem, type ErrorBody, type ErrorCode } from '@holo/shared'

/** A 400 naming one bad body field. */
const badField = (field: string, message: string): ErrorBody => fieldProblem(field, 'body', message)

/** RFC 9110 asks every 401 to name its scheme. */
const bearerChallenge = { 'www-authenticate': 'Bearer' }

export const errors = defineErrors({
  INVALID_CREDENTIALS: () => ({ status: 401, detail: 'The email or password is incorrect', headers: bearerChallenge }),
  REFRESH_TOKEN_INVALID: () => ({
    status: 401,
    detail: 'The refresh token is invalid, expired or revoked',
    headers: bearerChallenge
  }),
  REFRESH_TOKEN_REUSED: () => ({
    status: 401,
    detail: 'This refresh token was already used; the session has been ended',
    headers: bearerChallenge
  }),
  ACCOUNT_DISABLED: () => ({ status: 403, detail: 'This account is disabled' }),
  TOKEN_INVALID: () => badField('token', 'is invalid, expired or already used'),
  WEAK_PASSWORD: (field: string, problem: string) => badField(field, problem),
  CURRENT_PASSWORD_INCORRECT: () => badField('currentPassword', 'is incorrect'),
  SELF_LOCKOUT: () => ({ status: 400, detail: 'Admins cannot disable themselves or drop their own admin role' }),
  EMAIL_TAKEN: () => ({ status: 409, detail: 'An account with this email already exists' }),
  USERNAME_TAKEN: () => ({ status: 409, detail: 'This username is taken' }),
  USER_NOT_FOUND: () => ({ status: 404, detail: 'No such user' }),
  PROFILE_NOT_FOUND: () => ({ status: 404, detail: 'No such profile' }),
  SESSION_NOT_FOUND: () => ({ status: 404, detail: 'No such session' }),
  FILE_REFERENCE_INVALID: (foreign: boolean) => badField('avatarFileId', foreign
    ? 'names a file of another user; use one of your own'
    : 'names no file of yours (it must exist)')
})

export type AuthErrorCode = ErrorCode<typeof errors>
