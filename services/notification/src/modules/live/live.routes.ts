// Live delivery endpoints: SSE (`/stream`), WebSocket (`/ws`) and stream tickets. The stream endpoints take the
// bearer token (verified by the kit: `auth: 'optional'`) or a single-use `?ticket=`, and answer 401 before any
// stream starts when neither is valid.
import { PassThrough } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import websocket from '@fastify/websocket'
import type { FastifyRequest } from 'fastify'
import type { Redis } from 'ioredis'
import type { RawData } from 'ws'
import { Type } from 'typebox'
import { commonErrors, problemResponses, revokedSessionKey, UuidSchema } from '@holo/shared'
import { LiveHub, LiveStream } from './live.hub.js'
import { SseSink, WsSink } from './live.sinks.js'
import { StreamTickets, type StreamIdentity } from './live.tickets.js'
import { liveErrors } from './live.errors.js'

export interface LiveRoutesOptions {
  redis: Redis
  hub: LiveHub
  tickets: StreamTickets
  /** How long a WebSocket waits for a first `resume` message before it starts without one. */
  resumeWaitMs?: number
}

const tags = ['notifications']

const StreamQuerySchema = Type.Object({
  ticket: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'A stream ticket (single use)' })),
  lastEventId: Type.Optional({ ...UuidSchema, description: 'Resume after this notification id (as Last-Event-ID)' })
})
const StreamHeadersSchema = Type.Object({
  'last-event-id': Type.Optional({ ...UuidSchema, description: 'Resume after this notification id' })
})
const EventStreamSchema =
  Type.Unsafe<NodeJS.ReadableStream>({ type: 'string', description: 'The event stream (text/event-stream)' })
const TicketSchema = Type.Object({
  ticket: Type.String({ description: 'Pass as `?ticket=` to /stream or /ws within expiresIn seconds, once' }),
  expiresIn: Type.Integer({ minimum: 1, description: 'Seconds the ticket stays valid' })
})

/** The `exp` of a bearer token the kit has verified already. */
function tokenExpiry (authorization: string): number {
  const payload = authorization.replace(/^Bearer\s+/i, '').split('.')[1] ?? ''
  const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp
  if (typeof exp !== 'number') throw commonErrors.TOKEN_INVALID()
  return exp
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

type ClientMessage = { type: 'resume', lastEventId: string } | { type: 'ping' }

/** A WebSocket client's message, or why it is refused (the close reason). */
function parseClientMessage (data: RawData, isBinary: boolean): ClientMessage | string {
  if (isBinary) return 'binary messages are not accepted'
  let m: unknown
  try { m = JSON.parse(data.toString()) } catch { return 'messages must be JSON' }
  if (typeof m !== 'object' || m === null) return 'messages must be JSON objects'
  const { type, lastEventId } = m as { type?: unknown, lastEventId?: unknown }
  if (type === 'ping') return { type: 'ping' }
  if (type !== 'resume') return 'unknown message type (resume, ping)'
  if (typeof lastEventId !== 'string' || !UUID.test(lastEventId)) return 'resume needs lastEventId: a notification id'
  return { type: 'resume', lastEventId: lastEventId.toLowerCase() }
}

export const liveRoutes: FastifyPluginAsyncTypebox<LiveRoutesOptions> = async (app, o) => {
  const resumeWaitMs = o.resumeWaitMs ?? 1000
  const identities = new WeakMap<FastifyRequest, StreamIdentity>()

  // Closing the app: SSE streams end, WebSockets close with 1001 (before the server stops accepting).
  await app.register(websocket, {
    options: { maxPayload: 4096 },
    preClose: async function () { o.hub.endAll('shutdown') }
  })
  app.addHook('onClose', async () => { o.hub.stop() })

  /** The stream's identity: the verified bearer token, else a ticket (consumed); 401 without either. */
  const identify = async (request: FastifyRequest): Promise<void> => {
    const viewer = request.viewer
    const authorization = request.headers.authorization
    if (viewer !== null && authorization !== undefined) {
      const expiresAt = tokenExpiry(authorization)
      identities.set(request, { userId: viewer.id, sessionId: viewer.sessionId, expiresAt })
      return
    }
    const ticket = (request.query as { ticket?: string }).ticket
    if (ticket === undefined) {
      throw commonErrors.UNAUTHORIZED('Send an access token (Authorization: Bearer) or a stream ticket (?ticket=)')
    }
    const identity = await o.tickets.consume(ticket)
    if (identity === null) throw liveErrors.STREAM_TICKET_INVALID()
    if (await o.redis.exists(revokedSessionKey(identity.sessionId)) === 1) throw commonErrors.SESSION_REVOKED()
    identities.set(request, identity)
  }

  app.post('/api/v1/notifications/stream-ticket', {
    config: { auth: 'required' },
    schema: {
      tags,
      summary: 'A ticket to open a live stream without a header',
      description: 'For clients that cannot set Authorization on a stream (EventSource): a random ticket, valid ' +
        'once, for `expiresIn` seconds (30), bound to your session and your token\'s expiry.',
      response: { 200: { ...TicketSchema, description: 'The ticket' } }
    }
  }, async (request, reply) => {
    const expiresAt = tokenExpiry(request.headers.authorization ?? '')
    const caller = request.caller
    const result = await o.tickets.issue({ userId: caller.id, sessionId: caller.sessionId, expiresAt })
    return reply.header('cache-control', 'no-store').send(result)
  })

  app.get('/api/v1/notifications/stream', {
    config: { auth: 'optional' },
    schema: {
      // Kept out of /openapi.json like the WebSocket route (an endless response is no request/response operation:
      // generated clients and the OpenAPI fuzzer would wait on it); docs/notifications.md holds the protocol.
      hide: true,
      tags,
      summary: 'Your notifications, live (Server-Sent Events)',
      description: 'text/event-stream: `event: notification` (id: the notification id, data: the item), ' +
        '`event: unread` (data: {count}, sent first), `event: removed` (data: {id}), `event: reauth` (the token ' +
        'expired; the stream ends), `: ping` comments. Authenticate with Authorization or `?ticket=`. Resume with ' +
        'Last-Event-ID (or `?lastEventId=`): every notification after it comes first, then live ones.',
      querystring: StreamQuerySchema,
      headers: StreamHeadersSchema,
      response: {
        200: EventStreamSchema,
        ...problemResponses(400, 401)
      }
    },
    preHandler: identify
  }, async (request, reply) => {
    const identity = identities.get(request) as StreamIdentity
    const resume = request.headers['last-event-id'] ?? request.query.lastEventId
    const out = new PassThrough()
    const sink = new SseSink(out, () => { stream.end('slow') })
    const stream = new LiveStream(o.hub, identity, sink)
    // The client went away: forget the stream and drop the half-closed connection (the response never ends).
    reply.raw.on('close', () => {
      stream.dispose()
      if (!reply.raw.writableFinished) request.raw.socket.destroy()
    })
    out.write('retry: 2000\n\n')
    void stream.start(resume === undefined ? null : resume.toLowerCase())
    return reply.code(200)
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-accel-buffering', 'no')
      .send(out)
  })

  app.get('/api/v1/notifications/ws', {
    websocket: true,
    config: { auth: 'optional' },
    schema: {
      tags,
      summary: 'Your notifications, live (WebSocket)',
      querystring: StreamQuerySchema,
      response: { ...problemResponses(400, 401) }
    },
    preHandler: identify
  }, (socket, request) => {
    const identity = identities.get(request) as StreamIdentity
    const sink = new WsSink(socket, () => { stream.end('slow') })
    const stream = new LiveStream(o.hub, identity, sink)
    let started = false
    const begin = (lastEventId: string | null): void => {
      started = true
      clearTimeout(timer)
      void stream.start(lastEventId)
    }
    const fromQuery = request.query.lastEventId
    const timer = setTimeout(() => { begin(null) }, fromQuery === undefined ? resumeWaitMs : 0)
    if (fromQuery !== undefined) begin(fromQuery.toLowerCase())
    socket.on('message', (data, isBinary) => {
      const m = parseClientMessage(data, isBinary)
      if (typeof m === 'string') {
        stream.dispose()
        socket.close(1008, m)
      } else if (m.type === 'ping') {
        sink.send({ type: 'pong' })
      } else if (started) {
        stream.dispose()
        socket.close(1008, 'resume must be the first message (within 1 s of opening)')
      } else {
        begin(m.lastEventId)
      }
    })
    socket.on('close', () => {
      clearTimeout(timer)
      stream.dispose()
    })
  })
}
