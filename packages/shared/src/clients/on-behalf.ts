import type { FastifyRequest } from 'fastify'
import { commonErrors } from '../errors.js'

/** On whose behalf a call to another service is made: the caller's own token and the request id. */
export interface OnBehalfOf { token: string, requestId: string }

/** The caller's token and request id, for a call made on their behalf (the route's auth mode verified the token). */
export function onBehalfOf (request: FastifyRequest): OnBehalfOf {
  const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1]
  if (token === undefined) throw commonErrors.UNAUTHORIZED()
  return { token, requestId: request.id }
}
