// The auth service's own error catalogue, on top of @holo/shared's factories.
import { AppError, badRequest, conflict, forbidden, notFound, unauthorized } from '@holo/shared'

/** A 400 that names the offending field, like schema validation errors do. */
export const fieldError = (field: string, message: string, code = 'VALIDATION_FAILED'): AppError =>
  badRequest(`${field} ${message}`, code, { errors: [{ field, in: 'body', message }] })

export const invalidCredentials = (): AppError => unauthorized('The email or password is incorrect', 'INVALID_CREDENTIALS')
export const accountDisabled = (): AppError => forbidden('This account is disabled', 'ACCOUNT_DISABLED')
export const refreshInvalid = (): AppError => unauthorized('The refresh token is invalid, expired or revoked', 'REFRESH_TOKEN_INVALID')
export const refreshReused = (): AppError => unauthorized('This refresh token was already used; the session has been ended', 'REFRESH_TOKEN_REUSED')
export const tokenInvalid = (): AppError => fieldError('token', 'is invalid, expired or already used', 'TOKEN_INVALID')
export const emailTaken = (): AppError => conflict('An account with this email already exists', 'EMAIL_TAKEN')
export const usernameTaken = (): AppError => conflict('This username is taken', 'USERNAME_TAKEN')
export const userNotFound = (): AppError => notFound('No such user', 'USER_NOT_FOUND')
export const profileNotFound = (): AppError => notFound('No such profile', 'PROFILE_NOT_FOUND')
export const sessionNotFound = (): AppError => notFound('No such session', 'SESSION_NOT_FOUND')
