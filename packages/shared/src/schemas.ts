import { Type, type Static, type TSchema } from 'typebox'
import { UUID_PATTERN } from './kit/cursor.js'

export const ProblemSchema = Type.Object({
  type: Type.String({ description: 'URI naming the problem type' }),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  instance: Type.String({ description: 'The request path that produced the problem' }),
  requestId: Type.String(),
  code: Type.String({ description: 'Stable machine-readable code, e.g. CARD_NOT_FOUND' }),
  errors: Type.Optional(Type.Array(Type.Object({
    field: Type.String(),
    in: Type.String(),
    message: Type.String()
  }))),
  dependency: Type.Optional(Type.String())
}, { $id: 'Problem', additionalProperties: true, description: 'RFC 9457 problem details' })
export type Problem = Static<typeof ProblemSchema>

/** Response map entries for the usual problem statuses of a route. */
export function problemResponses (...statuses: number[]): Record<number, typeof ProblemSchema> {
  const out: Record<number, typeof ProblemSchema> = {}
  for (const s of statuses) out[s] = ProblemSchema
  return out
}

// The pattern as well as the format: ajv's uuid format also takes `urn:uuid:…`, which PostgreSQL refuses.
export const UuidSchema = Type.String({ format: 'uuid', pattern: UUID_PATTERN, description: 'A UUID' })
export const IdParamsSchema = Type.Object({ id: UuidSchema })

/** OpenAPI security of a route that needs an access token. */
export const bearerSecurity: Array<Record<string, string[]>> = [{ bearerAuth: [] }]
/** Works without a token; with one, the answer is personal. */
export const optionalBearerSecurity: Array<Record<string, string[]>> = [{}, { bearerAuth: [] }]
/** Needs no token and ignores one. */
export const noSecurity: Array<Record<string, string[]>> = []

export const NoContentSchema = Type.Null({ description: 'Done' })
export const NotModifiedSchema = Type.Null({ description: 'Not modified: your copy (If-None-Match) is current' })

/** A keyset page: the items and the cursor of the next page (null on the last). */
export const pageOf = <T extends TSchema>(item: T) => Type.Object({
  items: Type.Array(item),
  nextCursor: Type.Union([Type.String({ description: 'Opaque; pass as cursor for the next page' }), Type.Null()])
})

export const LimitSchema = Type.Integer({ minimum: 1, maximum: 100, default: 20 })
export const CursorSchema = Type.String({ maxLength: 512, description: 'Opaque cursor from a previous page' })

export const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('unavailable')]),
  checks: Type.Optional(Type.Record(Type.String(), Type.Object({
    status: Type.Union([Type.Literal('ok'), Type.Literal('down')]),
    critical: Type.Boolean(),
    latencyMs: Type.Number(),
    error: Type.Optional(Type.String())
  })))
})
