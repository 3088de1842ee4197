/**
 * One error catalogue for every service: an error knows its HTTP status, a
 * stable code and a safe, client-facing detail. Anything that is not an
 * AppError is rendered as a generic 500 (details go to the log only).
 */
export class AppError extends Error {
  override name = 'AppError'
  constructor (
    readonly statusCode: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {}
  ) {
    super(detail)
  }
}

export const problemType = (code: string): string =>
  `https://holo.cards/problems/${code.toLowerCase().replace(/_/g, '-')}`

export const badRequest = (detail: string, code = 'BAD_REQUEST', extra?: Record<string, unknown>): AppError =>
  new AppError(400, code, 'Bad Request', detail, extra)
export const unauthorized = (detail = 'Authentication is required', code = 'UNAUTHORIZED'): AppError =>
  new AppError(401, code, 'Unauthorized', detail, {}, { 'www-authenticate': 'Bearer' })
export const forbidden = (detail = 'You may not do this', code = 'FORBIDDEN'): AppError =>
  new AppError(403, code, 'Forbidden', detail)
export const notFound = (detail = 'Not found', code = 'NOT_FOUND'): AppError =>
  new AppError(404, code, 'Not Found', detail)
export const conflict = (detail: string, code = 'CONFLICT'): AppError =>
  new AppError(409, code, 'Conflict', detail)
export const preconditionFailed = (detail: string, code = 'PRECONDITION_FAILED'): AppError =>
  new AppError(412, code, 'Precondition Failed', detail)
export const payloadTooLarge = (detail: string, code = 'PAYLOAD_TOO_LARGE'): AppError =>
  new AppError(413, code, 'Payload Too Large', detail)
export const unsupportedMediaType = (detail: string, code = 'UNSUPPORTED_MEDIA_TYPE'): AppError =>
  new AppError(415, code, 'Unsupported Media Type', detail)
export const unprocessable = (detail: string, code = 'UNPROCESSABLE'): AppError =>
  new AppError(422, code, 'Unprocessable Content', detail)
export const tooManyRequests = (retryAfterSeconds: number, detail = 'Too many requests, try again later'): AppError =>
  new AppError(429, 'RATE_LIMITED', 'Too Many Requests', detail, {}, { 'retry-after': String(retryAfterSeconds) })
export const serviceUnavailable = (dependency: string, detail?: string): AppError =>
  new AppError(503, 'DEPENDENCY_UNAVAILABLE', 'Service Unavailable', detail ?? `${dependency} is unavailable, try again shortly`, { dependency }, { 'retry-after': '5' })
