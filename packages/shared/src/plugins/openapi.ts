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
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /api/v1/auth/login' }
        }
      }
    },
    transformObject: (documents) => 'openapiObject' in documents
      ? referenceSharedSchemas(documents.openapiObject as OpenApiDocument) as typeof documents.openapiObject
      : documents.swaggerObject,
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'holo-openapi' })

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
