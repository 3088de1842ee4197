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
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /api/v1/auth/login' }
        }
      }
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'holo-openapi' })
