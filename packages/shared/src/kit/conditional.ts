import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** A strong ETag from a body's bytes. */
export const hashEtag = (body: string | Buffer): string =>
  `"${createHash('sha1').update(body).digest('base64url').slice(0, 22)}"`

const opaque = (tag: string): string => tag.trim().replace(/^W\//, '')

/**
 * Whether If-None-Match matches `etag`: the weak comparison RFC 9110 §13.1.2
 * asks for (`W/"x"` matches `"x"`), or `*`.
 */
export function noneMatch (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  const bare = opaque(etag)
  return header.split(',').some((t) => t.trim() === '*' || opaque(t) === bare)
}

/**
 * Whether If-Match lets a write through: absent, `*` (the resource exists), or
 * a strong comparison (RFC 9110 §13.1.1: a weak tag never matches).
 */
export function ifMatchPasses (header: string | undefined, etag: string): boolean {
  if (header === undefined) return true
  return header.split(',').some((t) => {
    const v = t.trim()
    return v === '*' || (!v.startsWith('W/') && !etag.startsWith('W/') && v === etag)
  })
}

export interface Validators { etag: string, cacheControl: string, vary?: string }

/**
 * Sets ETag, Cache-Control and Vary, and answers 304 when the client's copy is
 * current. Returns true when it answered (the route then sends nothing else).
 */
export function notModified (request: FastifyRequest, reply: FastifyReply, v: Validators): boolean {
  reply.header('etag', v.etag).header('cache-control', v.cacheControl)
  if (v.vary !== undefined) reply.header('vary', v.vary)
  if (!noneMatch(request.headers['if-none-match'], v.etag)) return false
  void reply.code(304).send()
  return true
}

/** Sends a body already serialised as JSON with its validators, or 304 when the client has it. */
export function sendJsonWithValidators (
  request: FastifyRequest,
  reply: FastifyReply,
  body: string,
  v: Validators
): FastifyReply {
  if (notModified(request, reply, v)) return reply
  return sendJson(reply, body)
}

/** Sends a body already serialised as JSON (cached or built by the service): the route's serializer is skipped. */
export function sendJson (reply: FastifyReply, body: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(body)
}
