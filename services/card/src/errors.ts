import { AppError, badRequest, forbidden, notFound, preconditionFailed } from '@holo/shared'

/** The card service's error catalogue. */
export const cardNotFound = (): AppError => notFound('No such card', 'CARD_NOT_FOUND')
export const templateNotFound = (): AppError => notFound('No such template', 'TEMPLATE_NOT_FOUND')
export const collectionNotFound = (): AppError => notFound('No such collection', 'COLLECTION_NOT_FOUND')
export const notOwner = (what: string): AppError => forbidden(`Only the owner may change this ${what}`, 'NOT_OWNER')
export const changedSinceRead = (what: string): AppError =>
  preconditionFailed(`The ${what} changed since you read it (If-Match does not match its ETag); read it again`, `${what.toUpperCase()}_CHANGED`)

/** A 400 naming the offending field, like the schema validation errors do. */
export const invalidField = (field: string, where: 'body' | 'querystring' | 'params', message: string, code = 'VALIDATION_FAILED'): AppError =>
  badRequest(`${field} ${message}`, code, { errors: [{ field, in: where, message }] })
