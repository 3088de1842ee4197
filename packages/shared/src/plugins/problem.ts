import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, problemType, titleOf } from '../errors.js'
import type { Problem } from '../schemas.js'
import { methodNotAllowed } from './request-guards.js'

/** Why a request failed, kept for its one log line (written when the response is done). */
export interface Failure { code: string, detail: string, err?: unknown, errors?: FieldError[], dependency?: string }
const FAILURE = Symbol.for('holo.failure')
export const failureOf = (request: FastifyRequest): Failure | undefined =>
  (request as FastifyRequest & { [FAILURE]?: Failure })[FAILURE]
const fail = (request: FastifyRequest, f: Failure): void => {
  (request as FastifyRequest & { [FAILURE]?: Failure })[FAILURE] = f
}

interface FieldError { field: string, in: string, message: string }

/** Classifies errors of an unavailable dependency (database, Redis, storage) so they become 503. */
export function dependencyOf (error: unknown): string | undefined {
  const e = error as {
    code?: string
    name?: string
    message?: string
    cause?: unknown
    dependency?: string
  } | undefined
  if (e == null || typeof e !== 'object') return undefined
  if (typeof e.dependency === 'string') return e.dependency
  const code = e.code ?? ''
  const name = e.name ?? ''
  const message = e.message ?? ''
  if (['P1001', 'P1002', 'P1008', 'P1017', 'P2024', '57P01', '57P03', '53300'].includes(code)) return 'postgres'
  const postgresDown =
    /Can't reach database|Connection terminated|connect ECONNREFUSED .*:5432|timeout exceeded when trying to connect/i
  if (name === 'DriverAdapterError' || postgresDown.test(message)) return 'postgres'
  if (name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|enableOfflineQueue/i.test(message)) return 'redis'
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return 'upstream'
  return e.cause !== undefined && e.cause !== error ? dependencyOf(e.cause) : undefined
}

function validationErrors (error: FastifyError): FieldError[] {
  const where = error.validationContext ?? 'body'
  return (error.validation ?? []).map((v) => {
    const params = v.params as Record<string, unknown>
    let path = v.instancePath.replace(/^\//, '').replace(/\//g, '.')
    if (typeof params.missingProperty === 'string') {
      path = path ? `${path}.${params.missingProperty}` : params.missingProperty
    }
    if (typeof params.additionalProperty === 'string') {
      const field = path ? `${path}.${params.additionalProperty}` : params.additionalProperty
      return { field, in: where, message: 'is not an allowed field' }
    }
    return { field: path || where, in: where, message: v.message ?? 'is invalid' }
  })
}

/** Sends a problem the core renders itself (outside the error handler, e.g. for router errors). */
export function sendProblem (request: FastifyRequest, reply: FastifyReply, status: number, code: string, detail: string,
  extra: Record<string, unknown> = {}): FastifyReply {
  fail(request, { code, detail })
  return render(request, reply, { status, title: titleOf(status), code, detail, ...extra })
}

function render (
  request: FastifyRequest,
  reply: FastifyReply,
  p: Omit<Problem, 'instance' | 'requestId' | 'type'> & Record<string, unknown>
): FastifyReply {
  const body: Problem = {
    type: problemType(p.code),
    instance: request.url.split('?')[0] ?? request.url,
    requestId: request.id,
    ...p
  }
  // Validators or a cache policy set before the failure belong to the representation that was not sent.
  reply.removeHeader('etag').removeHeader('last-modified').header('cache-control', 'no-store')
  return reply.code(p.status).type('application/problem+json').send(body)
}

/**
 * Root error handler: every error becomes RFC 9457 problem+json. Known errors
 * keep their detail; unknown ones become a generic 500 whose cause is logged.
 */
export const problemPlugin = fp(async function problemPlugin (app: FastifyInstance) {
  app.setErrorHandler(function (error: FastifyError, request, reply) {
    if (error instanceof AppError) {
      fail(request, { code: error.code, detail: error.detail })
      reply.headers(error.headers)
      return render(request, reply, {
        status: error.statusCode,
        title: error.title,
        code: error.code,
        detail: error.detail,
        ...error.extra
      })
    }
    if (error.validation != null) {
      const errors = validationErrors(error)
      const detail = errors.map((e) => `${e.field} ${e.message}`).join('; ')
      fail(request, { code: 'VALIDATION_FAILED', detail, errors })
      return render(request, reply, { status: 400, title: 'Bad Request', code: 'VALIDATION_FAILED', detail, errors })
    }
    const dependency = dependencyOf(error)
    if (dependency !== undefined) {
      fail(request, { code: 'DEPENDENCY_UNAVAILABLE', detail: 'dependency unavailable', err: error, dependency })
      reply.header('retry-after', '5')
      return render(request, reply, {
        status: 503,
        title: 'Service Unavailable',
        code: 'DEPENDENCY_UNAVAILABLE',
        detail: `${dependency} is unavailable, try again shortly`,
        dependency
      })
    }
    const status = error.statusCode ?? 500
    if (status >= 400 && status < 500) {
      // Fastify's and its plugins' own client errors carry safe messages.
      fail(request, { code: codeOf(error, status), detail: error.message })
      if (status === 429) reply.header('retry-after', reply.getHeader('retry-after') ?? '60')
      return render(request, reply, {
        status,
        title: titleOf(status),
        code: codeOf(error, status),
        detail: error.message
      })
    }
    fail(request, { code: 'INTERNAL', detail: 'unhandled error', err: error })
    return render(request, reply, {
      status: 500,
      title: 'Internal Server Error',
      code: 'INTERNAL',
      detail: 'An unexpected error occurred; quote the requestId when reporting it'
    })
  })

  app.setNotFoundHandler(function (request, reply) {
    const path = request.url.split('?')[0] ?? ''
    const allowed = typeof app.allowedMethods === 'function' ? app.allowedMethods(path) : []
    if (allowed.length > 0) throw methodNotAllowed(request.method, path, allowed)
    const detail = `No route for ${request.method} ${path}`
    fail(request, { code: 'ROUTE_NOT_FOUND', detail })
    return render(request, reply, { status: 404, title: 'Not Found', code: 'ROUTE_NOT_FOUND', detail })
  })
}, { name: 'holo-problem' })

function codeOf (error: FastifyError, status: number): string {
  const byCode: Record<string, string> = {
    FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
    FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
    FST_ERR_CTP_EMPTY_JSON_BODY: 'EMPTY_BODY',
    FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON'
  }
  if (error.code !== undefined && byCode[error.code] !== undefined) return byCode[error.code] as string
  if (status === 400 && /JSON/i.test(error.message)) return 'MALFORMED_JSON'
  if (status === 429) return 'RATE_LIMITED'
  return titleOf(status).toUpperCase().replace(/ /g, '_')
}
