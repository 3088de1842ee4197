import type { FastifyReply, FastifyRequest } from 'fastify'
import { unauthorized, type AuthUser } from '@holo/shared'
import type { OnBehalfOf } from '../clients/files.js'
import { noneMatch } from './etag.js'

/** A response body already serialised, with its validators. */
export interface Rendered { body: string, etag: string, cacheControl: string }

/** The caller of a route guarded by `app.authenticate`. */
export function caller (request: FastifyRequest): AuthUser {
  if (request.user === null) throw unauthorized()
  return request.user
}

/** The caller's token and request id, for a call to another service made on their behalf. */
export function onBehalfOf (request: FastifyRequest): OnBehalfOf {
  // The route's authenticate hook has checked this token already.
  const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1]
  if (token === undefined) throw unauthorized()
  return { token, requestId: request.id }
}

/** Sends a pre-serialised body with its validators, or 304 when the client has it. */
export function sendRendered (request: FastifyRequest, reply: FastifyReply, r: Rendered): FastifyReply {
  reply.header('etag', r.etag).header('cache-control', r.cacheControl).header('vary', 'Authorization')
  if (noneMatch(request.headers['if-none-match'], r.etag)) return reply.code(304).send()
  return reply.type('application/json; charset=utf-8').send(r.body)
}
