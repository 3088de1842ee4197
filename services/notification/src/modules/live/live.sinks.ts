// The two transports of a live stream: Server-Sent Events and WebSocket messages.
import type { PassThrough } from 'node:stream'
import type { WebSocket } from 'ws'
import type { LiveMessage } from '../notifications/notifications.publisher.js'
import type { CloseReason, StreamSink } from './live.hub.js'

/** A client this far behind (bytes queued) is dropped; it resumes with its last id. */
const MAX_QUEUED_BYTES = 1024 * 1024

/** One SSE event: `event:` and `data:` (and `id:` for notifications, the resume point). */
export function sseEvent (message: LiveMessage): string {
  switch (message.kind) {
    case 'notification':
      return `event: notification\nid: ${message.notification.id}\ndata: ${JSON.stringify(message.notification)}\n\n`
    case 'unread':
      return `event: unread\ndata: ${JSON.stringify({ count: message.count })}\n\n`
    case 'removed':
      return `event: removed\ndata: ${JSON.stringify({ id: message.id })}\n\n`
  }
}

export class SseSink implements StreamSink {
  readonly transport = 'sse'
  constructor (private readonly out: PassThrough, private readonly onSlow: () => void) {}

  private send (text: string): void {
    if (this.out.writableEnded) return
    this.out.write(text)
    if (this.out.writableLength > MAX_QUEUED_BYTES) this.onSlow()
  }

  write (message: LiveMessage): void { this.send(sseEvent(message)) }
  heartbeat (): void { this.send(': ping\n\n') }
  reauth (): void {
    this.send('event: reauth\ndata: {}\n\n')
    this.out.end()
  }

  close (_why: CloseReason): void { if (!this.out.writableEnded) this.out.end() }
}

/** What the server sends on a WebSocket. */
export type WsServerMessage =
  | { type: 'notification', id: string, notification: unknown }
  | { type: 'unread', count: number }
  | { type: 'removed', id: string }
  | { type: 'reauth' }
  | { type: 'pong' }

export const wsMessage = (message: LiveMessage): WsServerMessage => {
  switch (message.kind) {
    case 'notification':
      return { type: 'notification', id: message.notification.id, notification: message.notification }
    case 'unread': return { type: 'unread', count: message.count }
    case 'removed': return { type: 'removed', id: message.id }
  }
}

const WS_CLOSE: Record<CloseReason, [number, string]> = {
  revoked: [1008, 'session revoked'],
  shutdown: [1001, 'server shutting down'],
  resync: [1012, 'reconnect and resume'],
  slow: [1008, 'client too slow; reconnect and resume'],
  error: [1011, 'stream failed; reconnect and resume']
}

export class WsSink implements StreamSink {
  readonly transport = 'ws'
  constructor (private readonly socket: WebSocket, private readonly onSlow: () => void) {}

  get open (): boolean { return this.socket.readyState === this.socket.OPEN }

  send (message: WsServerMessage): void {
    if (!this.open) return
    this.socket.send(JSON.stringify(message))
    if (this.socket.bufferedAmount > MAX_QUEUED_BYTES) this.onSlow()
  }

  write (message: LiveMessage): void { this.send(wsMessage(message)) }
  heartbeat (): void { if (this.open) this.socket.ping() }
  reauth (): void {
    this.send({ type: 'reauth' })
    if (this.open) this.socket.close(1000, 'token expired: sign in again')
  }

  close (why: CloseReason): void {
    const [code, reason] = WS_CLOSE[why]
    if (this.open) this.socket.close(code, reason)
  }
}
