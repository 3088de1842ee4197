import fp from 'fastify-plugin'
import FindMyWay from 'find-my-way'
import type { FastifyInstance } from 'fastify'
import type { HTTPMethod } from 'find-my-way'
import { AppError, invalidField, type RequestPart } from '../errors.js'
import { ProblemSchema } from '../schemas.js'

/** The path of the first string holding a NUL character, or undefined. */
export function nulPath (value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined
  // Bytes (a raw body a route keeps unparsed, such as a signed webhook) hold no strings: walking a Buffer's
  // every index would cost more than the request.
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return undefined
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulPath(value[i], path === '' ? String(i) : `${path}.${i}`)
      if (found !== undefined) return found
    }
    return undefined
  }
  for (const [key, v] of Object.entries(value)) {
    const here = path === '' ? key : `${path}.${key}`
    if (key.includes('\u0000')) return here
    const found = nulPath(v, here)
    if (found !== undefined) return found
  }
  return undefined
}

const METHODS: HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

/**
 * Guards every route of the app in one place:
 * - a NUL character in any string of the body, query or params is a 400
 *   naming the field (PostgreSQL text cannot hold one, so it would be a 500);
 * - a known path asked with a method it does not have is a 405 with Allow,
 *   not a 404.
 */
export const requestGuardsPlugin = fp(async function requestGuards (app: FastifyInstance) {
  app.addHook('preValidation', async (request) => {
    const parts: Array<[RequestPart, unknown]> = [
      ['params', request.params],
      ['querystring', request.query],
      ['body', request.body]
    ]
    for (const [where, value] of parts) {
      const field = nulPath(value)
      if (field !== undefined) {
        throw invalidField(field === '' ? where : field, where, 'must not contain NUL characters')
      }
    }
  })

  // What the core itself answers for any route with input: 400 for input its schemas refuse, 415
  // for a body in a type no parser takes. The documents say so without each route repeating it.
  app.addHook('onRoute', (route) => {
    const schema = route.schema as Record<string, unknown> | undefined
    if (schema === undefined || schema.hide === true) return
    const response = { ...(schema.response as Record<string, unknown> | undefined) }
    const takesInput = ['body', 'querystring', 'params', 'headers'].some((part) => schema[part] !== undefined)
    if (takesInput && response[400] === undefined) response[400] = ProblemSchema
    if (schema.body !== undefined && response[415] === undefined) response[415] = ProblemSchema
    route.schema = { ...schema, response } as typeof route.schema
  })

  // A side router holding every route's path: answers "which methods does this path have?".
  const paths = FindMyWay({ ignoreTrailingSlash: false })
  const noop = (): void => {}
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (!METHODS.includes(method as HTTPMethod) || paths.hasRoute(method as HTTPMethod, route.url)) continue
      paths.on(method as HTTPMethod, route.url, noop)
    }
  })
  app.decorate('allowedMethods', (path: string): string[] => METHODS.filter((m) => paths.find(m, path) !== null))
}, { name: 'holo-request-guards' })

declare module 'fastify' {
  interface FastifyInstance {
    /** The methods a path has routes for (empty when it has none). */
    allowedMethods: (path: string) => string[]
  }
}

export const methodNotAllowed = (method: string, path: string, allowed: string[]): AppError =>
  new AppError(
    405,
    'METHOD_NOT_ALLOWED',
    'Method Not Allowed',
    `${path} does not accept ${method}; it accepts ${allowed.join(', ')}`,
    {},
    { allow: allowed.join(', ') }
  )
