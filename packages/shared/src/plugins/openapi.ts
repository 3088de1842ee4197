import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import { ProblemSchema } from '../schemas.js'

export interface OpenApiOptions {
  service: string
  title: string
  description: string
  version?: string
}

/**
 * The service's OpenAPI 3.1 document, generated from its route schemas and
 * served at /openapi.json. Routes opt in to auth docs with `security`.
 */
export const openapiPlugin = fp(async function openapiPlugin (app: FastifyInstance, o: OpenApiOptions) {
  app.addSchema(ProblemSchema)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: o.title, description: o.description, version: o.version ?? '1.0.0' },
      servers: [{ url: '/', description: 'The gateway, or the service itself: the paths are the same' }],
      // Any route accepts a bearer token (a bad one is refused with 401); routes that need one say so.
      security: [{}, { bearerAuth: [] }],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'An access token from POST /api/v1/auth/login'
          }
        }
      }
    },
    // Every operation gets an operationId; a route's own `schema.operationId` wins.
    transform: ({ schema, url, route }) => {
      const methods = typeof route.method === 'string' ? [route.method] : route.method
      if (schema?.operationId !== undefined || methods.length !== 1) return { schema, url }
      return { schema: { ...schema, operationId: defaultOperationId(methods[0] as string, url) }, url }
    },
    transformObject: (documents) => 'openapiObject' in documents
      ? optionalDefaultedParameters(
        problemMediaType(referenceSharedSchemas(documents.openapiObject as OpenApiDocument))
      ) as typeof documents.openapiObject
      : documents.swaggerObject,
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'holo-openapi' })

const words = (segment: string): string[] => segment.split(/[^A-Za-z0-9]+/).filter((w) => w !== '')
const pascal = (ws: string[]): string => ws.map((w) => w[0]?.toUpperCase() + w.slice(1)).join('')
const singular = (w: string): string => w.endsWith('ies') ? `${w.slice(0, -3)}y` : w.endsWith('s') ? w.slice(0, -1) : w
const isParam = (segment: string): boolean => /^[:*{]/.test(segment)

/**
 * A stable camelCase operationId from method and route template, so that no
 * route can go without one: `POST /api/v1/cards` → `createCard`,
 * `GET /api/v1/cards` → `listCards`, `GET /api/v1/files/:id` → `getFile`,
 * `PATCH /api/v1/auth/me` → `updateAuthMe`, `POST /api/v1/auth/login` →
 * `authLogin` (a POST to anything but a collection is an action). A segment
 * followed by a parameter names one item (`/cards/:id/like` → `…CardLike`).
 */
export function defaultOperationId (method: string, url: string): string {
  const segments = url.split('/').filter((s) => s !== '' && s !== 'api' && !/^v\d+$/.test(s))
  const parts: string[][] = []
  segments.forEach((s, i) => {
    if (isParam(s)) return
    const next = segments[i + 1]
    const ws = words(s)
    if (next !== undefined && isParam(next) && ws.length > 0) ws[ws.length - 1] = singular(ws[ws.length - 1] as string)
    parts.push(ws)
  })
  const last = segments.at(-1)
  const collection = last !== undefined && !isParam(last) && /[a-z]s$/.test(last)
  const m = method.toUpperCase()
  let verb: string
  if (m === 'GET') verb = collection ? 'list' : 'get'
  else if (m === 'POST') {
    if (!collection) { const ws = parts.flat(); return (ws[0] ?? 'root') + pascal(ws.slice(1)) }
    const ws = parts.at(-1) as string[]
    ws[ws.length - 1] = singular(ws[ws.length - 1] as string)
    verb = 'create'
  } else if (m === 'PATCH') verb = 'update'
  else verb = m.toLowerCase()
  return verb + pascal(parts.flat())
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
interface OpenApiDocument { components?: { schemas?: Record<string, Json> }, [key: string]: unknown }

/** JSON with object keys sorted, so two schemas compare by content. */
function canonical (value: Json): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k] as Json)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/**
 * Routes give their error responses the shared Problem schema object, which
 * the generator inlines into every response. Point those copies at
 * components.schemas.Problem instead: a smaller document, one Problem type in
 * generated clients, and no unused component.
 */
export function referenceSharedSchemas<D extends OpenApiDocument> (doc: D): D {
  const shared = Object.entries(doc.components?.schemas ?? {})
    .map(([name, schema]) => [canonical(schema), { $ref: `#/components/schemas/${name}` }] as const)
  if (shared.length === 0) return doc
  const byContent = new Map<string, Json>(shared)
  const walk = (value: Json, inComponents: boolean): Json => {
    if (Array.isArray(value)) return value.map((v) => walk(v, inComponents))
    if (value === null || typeof value !== 'object') return value
    if (!inComponents) {
      const ref = byContent.get(canonical(value))
      if (ref !== undefined) return ref
    }
    const out: Record<string, Json> = {}
    for (const [k, v] of Object.entries(value)) out[k] = walk(v as Json, false)
    return out
  }
  const { components, ...rest } = doc
  const paths = walk(rest as unknown as Json, false) as Record<string, unknown>
  return { ...paths, ...(components === undefined ? {} : { components }) } as D
}

const PROBLEM_REF = '#/components/schemas/Problem'

/**
 * Errors are sent as application/problem+json (RFC 9457), but the generator
 * documents every response as application/json: rename the media type of
 * responses whose schema is the shared Problem.
 */
export function problemMediaType<D extends OpenApiDocument> (doc: D): D {
  type Content = Record<string, { schema?: { $ref?: string } }>
  type Paths = Record<string, Record<string, { responses?: Record<string, { content?: Content }> }>>
  for (const item of Object.values((doc.paths ?? {}) as Paths)) {
    for (const op of Object.values(item)) {
      for (const res of Object.values(op?.responses ?? {})) {
        const content = res.content
        if (content?.['application/json']?.schema?.$ref !== PROBLEM_REF) continue
        res.content = Object.fromEntries(Object.entries(content).map(([type, media]) => [
          type === 'application/json' ? 'application/problem+json' : type,
          media
        ]))
      }
    }
  }
  return doc
}

/**
 * A query or header parameter with a default may be left out: the server fills
 * it in. The generator marks it required because TypeBox lists it so; clear
 * that, so clients (and the typed client) need not send it.
 */
export function optionalDefaultedParameters<D extends OpenApiDocument> (doc: D): D {
  type Param = { in?: string, required?: boolean, schema?: { default?: unknown } }
  type Paths = Record<string, Record<string, { parameters?: Param[] }>>
  for (const item of Object.values((doc.paths ?? {}) as Paths)) {
    for (const op of Object.values(item)) {
      for (const p of op?.parameters ?? []) {
        if (p.in !== 'path' && p.required === true && p.schema?.default !== undefined) p.required = false
      }
    }
  }
  return doc
}
