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

/** What a catalogue entry gives: the status and the safe detail, optionally extra members and headers. */
export interface ErrorBody {
  status: number
  detail: string
  title?: string
  extra?: Record<string, unknown>
  headers?: Record<string, string>
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout'
}

/** The reason phrase of a status, for problem titles. */
export const titleOf = (status: number): string => TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error')

/** A typed error whose code is one of its catalogue's codes. */
export type CataloguedError<C extends string> = AppError & { readonly code: C }

type Catalogue<S> = { readonly [K in keyof S]: S[K] extends (...args: infer A) => ErrorBody
  ? (...args: A) => CataloguedError<K & string>
  : never }

/** The codes of a catalogue made by `defineErrors`, as a union type. */
export type ErrorCode<C> = keyof C & string

/**
 * A service's error catalogue: one entry a code, each a function of what the
 * detail needs. `errors.CARD_NOT_FOUND()` throws nothing by itself; throw
 * what it returns. The codes of the object are the only codes the service
 * raises, so they are a union type and appear in one place.
 */
export function defineErrors<const S extends Record<string, (...args: any[]) => ErrorBody>> (specs: S): Catalogue<S> {
  const out: Record<string, (...args: unknown[]) => AppError> = {}
  for (const [code, spec] of Object.entries(specs)) {
    out[code] = (...args: unknown[]) => {
      const b = spec(...args)
      return new AppError(b.status, code, b.title ?? titleOf(b.status), b.detail, b.extra, b.headers)
    }
  }
  return out as Catalogue<S>
}

export type RequestPart = 'body' | 'querystring' | 'params' | 'headers'

/** A catalogue entry's body for a 400 naming one bad field, shaped like the schema validation errors. */
export const fieldProblem = (field: string, where: RequestPart, message: string): ErrorBody =>
  ({ status: 400, detail: `${field} ${message}`, extra: { errors: [{ field, in: where, message }] } })

/** A 400 naming one bad field, shaped like the schema validation errors. */
export const invalidField = (
  field: string,
  where: RequestPart,
  message: string,
  code = 'VALIDATION_FAILED'
): AppError => {
  const b = fieldProblem(field, where, message)
  return new AppError(b.status, code, titleOf(b.status), b.detail, b.extra)
}

/** The errors every service shares; a service's own catalogue holds the rest. */
export const commonErrors = defineErrors({
  UNAUTHORIZED: (detail = 'Authentication is required') =>
    ({ status: 401, detail, headers: { 'www-authenticate': 'Bearer' } }),
  TOKEN_INVALID: (detail = 'The access token is invalid') =>
    ({ status: 401, detail, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }),
  TOKEN_EXPIRED: () =>
    ({ status: 401, detail: 'The access token has expired', headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }),
  SESSION_REVOKED: () => ({
    status: 401,
    detail: 'The session of this access token has ended',
    headers: { 'www-authenticate': 'Bearer error="invalid_token"' }
  }),
  FORBIDDEN: (detail = 'You may not do this') => ({ status: 403, detail }),
  NOT_OWNER: (what: string, detail = `Only the owner of this ${what} may do this`) => ({ status: 403, detail }),
  INVALID_CURSOR: () => ({
    status: 400,
    detail: 'cursor is not a cursor of this listing (cursors come from a previous page of the same query)',
    extra: { errors: [{ field: 'cursor', in: 'querystring', message: 'is not a cursor of this listing' }] }
  }),
  RATE_LIMITED: (retryAfterSeconds: number, detail = 'Too many requests, try again later') =>
    ({ status: 429, detail, headers: { 'retry-after': String(retryAfterSeconds) } }),
  DEPENDENCY_UNAVAILABLE: (dependency: string, detail?: string) => ({
    status: 503,
    detail: detail ?? `${dependency} is unavailable, try again shortly`,
    extra: { dependency },
    headers: { 'retry-after': '5' }
  })
})
