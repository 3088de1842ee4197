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
  REFRESH_TOKEN_MISSING: () =>
    badField('refreshToken', 'is required: send it in the body, or sign in with mode "cookie" first'),
  // Cookie mode: the refresh cookie alone never refreshes or ends a session (CSRF).
  CSRF_TOKEN_INVALID: () => ({
    status: 403,
    detail: 'The X-CSRF-Token header is missing or does not match this session\'s csrfToken'
  }),
  ACCOUNT_DISABLED: () => ({ status: 403, detail: 'This account is disabled' }),
  TOKEN_INVALID: () => badField('token', 'is invalid, expired or already used'),
  WEAK_PASSWORD: (field: string, problem: string) => badField(field, problem),
  CURRENT_PASSWORD_INCORRECT: () => badField('currentPassword', 'is incorrect'),
  SELF_LOCKOUT: () => ({
    status: 400,
    detail: 'Admins cannot disable themselves or give up their own permission to change roles (users.roles)'
  }),
  // Roles and permissions (src/modules/roles).
  ROLE_NOT_FOUND: (name: string) => ({ status: 404, detail: `No role "${name}"` }),
  ROLE_BUILT_IN: (name: string) => ({ status: 409, detail: `The role "${name}" is built in and cannot be deleted` }),
  ROLE_IN_USE: (name: string, holders: number) => ({
    status: 409,
    detail: `The role "${name}" is held by ${holders} account(s): take it from them first`,
    extra: { holders }
  }),
  ROLE_LOCKOUT: () => ({
    status: 409,
    detail: 'The role "admin" cannot lose users.roles: nobody could change roles any more'
  }),
  UNKNOWN_ROLES: (field: string, where: 'body' | 'querystring', names: string[]) =>
    fieldProblem(field, where,
      `names roles that do not exist: ${names.join(', ')} (GET /api/v1/auth/roles lists them)`),
  EMAIL_TAKEN: () => ({ status: 409, detail: 'An account with this email already exists' }),
  USERNAME_TAKEN: () => ({ status: 409, detail: 'This username is taken' }),
  USER_NOT_FOUND: () => ({ status: 404, detail: 'No such user' }),
  PROFILE_NOT_FOUND: () => ({ status: 404, detail: 'No such profile' }),
  SESSION_NOT_FOUND: () => ({ status: 404, detail: 'No such session' }),
  PASSWORD_NOT_SET: () => ({
    status: 400,
    detail: 'This account has no password yet: set one through the password reset (POST /password-reset)'
  }),
  // Sign-in providers (OpenID Connect, OAuth 2): every refusal is a 4xx naming the problem, nothing created.
  OAUTH_PROVIDER_UNKNOWN: (key: string) => ({ status: 404, detail: `No sign-in provider "${key}" is configured` }),
  OAUTH_PROVIDER_DISABLED: (key: string) => ({ status: 403, detail: `The sign-in provider "${key}" is disabled` }),
  REDIRECT_NOT_ALLOWED: (where: 'querystring' | 'body') =>
    fieldProblem('redirectTo', where, 'is not an allowed return address (OAUTH_REDIRECT_ALLOWLIST)'),
  OAUTH_STATE_INVALID: (why: string) => fieldProblem('state', 'querystring', why),
  OAUTH_LINK_TICKET_INVALID: () => fieldProblem('linkTicket', 'querystring', 'is invalid, expired or already used'),
  OAUTH_PROVIDER_ERROR: (key: string, error: string) => ({
    status: 400,
    detail: `The sign-in provider "${key}" refused the sign-in (${error})`,
    extra: { providerError: error }
  }),
  OAUTH_CODE_REJECTED: (key: string, error: string) => ({
    status: 400,
    detail: `The sign-in provider "${key}" refused the authorization code (${error}): ` +
      'it is invalid, expired, already used or was issued for another sign-in',
    extra: { providerError: error }
  }),
  OAUTH_ID_TOKEN_INVALID: (key: string, problem: string) => ({
    status: 400,
    detail: `The ID token from "${key}" was refused: ${problem}`
  }),
  OAUTH_RESPONSE_INVALID: (key: string) => ({
    status: 400,
    detail: `The answer of the sign-in provider "${key}" failed validation`
  }),
  OAUTH_EMAIL_REQUIRED: (key: string) => ({
    status: 400,
    detail: `The sign-in provider "${key}" did not share an email address; allow it, or register with a password`
  }),
  OAUTH_ACCOUNT_EXISTS: (key: string) => ({
    status: 409,
    detail: `An account with this email already exists. Sign in the usual way, then link "${key}" from your account`
  }),
  OAUTH_CODE_INVALID: () => fieldProblem('code', 'body', 'is invalid, expired or already used'),
  OAUTH_VERIFIER_MISMATCH: () =>
    fieldProblem('codeVerifier', 'body', 'does not match the code_challenge of this sign-in'),
  IDENTITY_TAKEN: (key: string) => ({
    status: 409,
    detail: `This "${key}" account already signs in to another Holo account`
  }),
  IDENTITY_PROVIDER_LINKED: (key: string) => ({
    status: 409,
    detail: `Another "${key}" account is already linked to yours; unlink it first`
  }),
  IDENTITY_NOT_FOUND: () => ({ status: 404, detail: 'No such identity' }),
  LAST_SIGN_IN_METHOD: () => ({
    status: 409,
    detail: 'This is the only way left to sign in to this account: set a password or link another provider first'
  }),
  FILE_REFERENCE_INVALID: (foreign: boolean) => badField('avatarFileId', foreign
    ? 'names a file of another user; use one of your own'
    : 'names no file of yours (it must exist)')
})

export type AuthErrorCode = ErrorCode<typeof errors>
