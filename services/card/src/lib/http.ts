import type { FastifyReply, FastifyRequest } from 'fastify'
import { unauthorized, type AuthUser } from '@holo/shared'
import { noneMatch } from './etag.js'

/** A response body already serialised, with its validators. */
export interface Rendered { body: string, etag: string, cacheControl: string }

/** The caller of a route guarded by `app.authenticate`. */
export function caller (request: FastifyRequest): AuthUser {
  if (request.user === null) throw unauthorized()
  return request.user
}

/** Sends a pre-serialised body with its validators, or 304 when the client has it. */
export function sendRendered (request: FastifyRequest, reply: FastifyReply, r: Rendered): FastifyReply {
  reply.header('etag', r.etag).header('cache-control', r.cacheControl).header('vary', 'Authorization')
  if (noneMatch(request.headers['if-none-match'], r.etag)) return reply.code(304).send()
  return reply.type('application/json; charset=utf-8').send(r.body)
}
