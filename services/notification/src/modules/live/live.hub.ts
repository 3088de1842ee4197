// One instance's side of live delivery: a single Redis subscriber connection (per-user channels, reference
// counted) fanning messages out to the open streams, a heartbeat, and a check of every open stream's session
// (revoked: closed; token expired: reauth) each NOTIFICATIONS_SESSION_CHECK_MS.
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import { revokedSessionKey } from '@holo/shared'
import type { LiveMessage } from '../notifications/notifications.publisher.js'
import type { NotificationItem } from '../notifications/notifications.types.js'
import type { LiveMetrics, Transport } from './live.metrics.js'
import type { StreamIdentity } from './live.tickets.js'

/** Why a stream ends: its session was revoked, the app closes, the subscriber lost messages, it fell behind. */
export type CloseReason = 'revoked' | 'shutdown' | 'resync' | 'slow' | 'error'

/** What a transport (SSE, WebSocket) does with the stream's messages. */
export interface StreamSink {
  readonly transport: Transport
  write: (message: LiveMessage) => void
  heartbeat: () => void
  /** Tells the client to sign in again (its token expired), then ends the stream. */
  reauth: () => void
  close: (why: CloseReason) => void
}

export interface HubOptions {
  redis: Redis
  channel: (userId: string) => string
  since: (userId: string, afterId: string | null, limit: number) => Promise<NotificationItem[]>
  /** The user's newest notification id, or null. */
  newest: (userId: string) => Promise<string | null>
  unreadCount: (userId: string) => Promise<number>
  metrics: LiveMetrics
  heartbeatMs: number
  checkMs: number
  log: FastifyBaseLogger
}

const BACKLOG_PAGE = 100
/** Messages held while the backlog is sent; a stream whose backlog takes longer is ended (it resumes). */
const MAX_BUFFERED = 10_000

/** One open stream: subscribed first, then the unread count and the backlog, then the buffered and live messages. */
export class LiveStream {
  private state: 'waiting' | 'starting' | 'live' | 'closed' = 'waiting'
  private buffered: LiveMessage[] = []
  private lastId: string | null = null
  /** A read of what came after lastId is running; `again`: a newer notification was announced meanwhile. */
  private catching: Promise<void> | undefined
  private again = false

  constructor (
    private readonly hub: LiveHub,
    readonly identity: StreamIdentity,
    private readonly sink: StreamSink
  ) {
    hub.open(this)
  }

  get closed (): boolean { return this.state === 'closed' }
  get transport (): Transport { return this.sink.transport }

  /** Starts delivery; `lastEventId`: the last notification id the client saw (it gets every later one first). */
  async start (lastEventId: string | null): Promise<void> {
    if (this.state !== 'waiting') return
    this.state = 'starting'
    try {
      // A fresh stream starts after the newest notification, read BEFORE subscribing: whatever is
      // committed from then on is either announced to the subscription or found by the read below.
      this.lastId = lastEventId ?? await this.hub.options.newest(this.identity.userId)
      await this.hub.subscribe(this)
      if (this.closed) return
      this.deliver({ kind: 'unread', count: await this.hub.options.unreadCount(this.identity.userId) }, false)
      await this.readAfterLast(lastEventId !== null)
      if (this.closed) return
      const buffered = this.buffered
      this.buffered = []
      this.state = 'live'
      for (const m of buffered) this.receive(m)
    } catch (err) {
      this.hub.options.log.warn({ err, userId: this.identity.userId }, 'live stream could not start')
      this.end('error')
    }
  }

  /**
   * A message of the user's channel. A notification is an announcement: unless it names the last id sent as
   * the one handed out just before it (then it is sent as is), what is sent is read from the inbox after the
   * last id sent, one read at a time, because announcements of two commits can arrive in either order while
   * ids follow commit order. Nothing is skipped, nothing sent twice.
   */
  receive (message: LiveMessage): void {
    if (this.state === 'starting') {
      this.buffered.push(message)
      if (this.buffered.length > MAX_BUFFERED) this.end('slow')
      return
    }
    if (this.state !== 'live') return
    if (message.kind !== 'notification') {
      this.deliver(message, true)
      return
    }
    // The one right after the last sent (in commit order): nothing can be missing in between, send it as is.
    if (this.catching === undefined && message.previousId !== undefined && message.previousId === this.lastId) {
      this.deliver({ kind: 'notification', notification: message.notification }, true)
      return
    }
    if (this.catching !== undefined) {
      this.again = true
      return
    }
    this.catching = (async () => {
      try {
        do {
          this.again = false
          await this.readAfterLast(true)
        } while (this.again && !this.closed)
      } catch (err) {
        this.hub.options.log.warn({ err, userId: this.identity.userId }, 'live stream could not read the inbox')
        this.end('error')
      } finally {
        this.catching = undefined
      }
    })()
  }

  /** Sends every notification after the last one sent, oldest first. */
  private async readAfterLast (live: boolean): Promise<void> {
    for (;;) {
      if (this.closed) return
      const page = await this.hub.options.since(this.identity.userId, this.lastId, BACKLOG_PAGE)
      for (const notification of page) this.deliver({ kind: 'notification', notification }, live)
      if (page.length < BACKLOG_PAGE) return
    }
  }

  private deliver (message: LiveMessage, live: boolean): void {
    if (this.closed) return
    if (message.kind === 'notification') {
      const id = message.notification.id
      // Ids grow per user in commit order, and every notification is read after the last one sent.
      if (this.lastId !== null && id <= this.lastId) return
      this.lastId = id
      if (live) {
        const age = (Date.now() - Date.parse(message.notification.createdAt)) / 1000
        const { latency } = this.hub.options.metrics
        if (Number.isFinite(age)) latency.observe({ transport: this.transport }, Math.max(0, age))
      }
    }
    this.sink.write(message)
    this.hub.options.metrics.events.inc({ transport: this.transport, kind: message.kind })
  }

  heartbeat (): void { if (!this.closed) this.sink.heartbeat() }

  reauth (): void {
    if (this.closed) return
    this.hub.options.metrics.events.inc({ transport: this.transport, kind: 'reauth' })
    this.dispose()
    this.sink.reauth()
  }

  /** Ends the stream from the server's side. */
  end (why: CloseReason): void {
    if (this.closed) return
    this.dispose()
    this.sink.close(why)
  }

  /** Forgets the stream (its connection is gone or being closed). */
  dispose (): void {
    if (this.closed) return
    this.state = 'closed'
    this.buffered = []
    this.hub.release(this)
  }
}

interface Channel { userId: string, streams: Set<LiveStream>, ready: Promise<unknown> }

export class LiveHub {
  private readonly sub: Redis
  private readonly channels = new Map<string, Channel>()
  private readonly streams = new Set<LiveStream>()
  private readonly timers: NodeJS.Timeout[]
  private checking = false
  private connectedOnce = false

  constructor (readonly options: HubOptions) {
    this.sub = options.redis.duplicate({
      connectionName: 'holo-notification-live',
      lazyConnect: false,
      enableOfflineQueue: true,
      commandTimeout: undefined
    })
    this.sub.on('error', () => {})
    this.sub.on('message', (channel: string, raw: string) => { this.dispatch(channel, raw) })
    // After a reconnect, messages published meanwhile are lost: streams end and their clients resume.
    this.sub.on('ready', () => {
      if (this.connectedOnce) for (const s of [...this.streams]) s.end('resync')
      this.connectedOnce = true
    })
    this.timers = [
      setInterval(() => { for (const s of this.streams) s.heartbeat() }, options.heartbeatMs),
      setInterval(() => { void this.check() }, options.checkMs)
    ]
    for (const t of this.timers) t.unref()
  }

  get size (): number { return this.streams.size }

  open (stream: LiveStream): void {
    this.streams.add(stream)
    this.options.metrics.connections.inc({ transport: stream.transport })
  }

  /** Subscribes the stream to its user's channel; resolves once Redis confirmed the subscription. */
  async subscribe (stream: LiveStream): Promise<void> {
    const name = this.options.channel(stream.identity.userId)
    let channel = this.channels.get(name)
    if (channel === undefined) {
      const created: Channel = { userId: stream.identity.userId, streams: new Set(), ready: Promise.resolve() }
      created.ready = this.sub.subscribe(name).catch((err: unknown) => {
        if (this.channels.get(name) === created) this.channels.delete(name)
        throw err
      })
      this.channels.set(name, created)
      channel = created
    }
    channel.streams.add(stream)
    await channel.ready
  }

  release (stream: LiveStream): void {
    if (!this.streams.delete(stream)) return
    this.options.metrics.connections.dec({ transport: stream.transport })
    const name = this.options.channel(stream.identity.userId)
    const channel = this.channels.get(name)
    if (channel === undefined || !channel.streams.delete(stream) || channel.streams.size > 0) return
    this.channels.delete(name)
    this.sub.unsubscribe(name).catch((err: unknown) => {
      this.options.log.warn({ err }, 'live channel could not be unsubscribed')
    })
  }

  private dispatch (name: string, raw: string): void {
    const channel = this.channels.get(name)
    if (channel === undefined) return
    let message: LiveMessage
    try {
      message = JSON.parse(raw) as LiveMessage
    } catch (err) {
      this.options.log.warn({ err }, 'live message is not JSON')
      return
    }
    for (const s of [...channel.streams]) s.receive(message)
  }

  /** Ends streams whose session was revoked; asks those whose token expired to sign in again. */
  async check (): Promise<void> {
    if (this.checking || this.streams.size === 0) return
    this.checking = true
    try {
      const now = Date.now()
      const bySession = new Map<string, LiveStream[]>()
      for (const s of [...this.streams]) {
        if (s.identity.expiresAt * 1000 <= now) {
          s.reauth()
          continue
        }
        const list = bySession.get(s.identity.sessionId)
        if (list === undefined) bySession.set(s.identity.sessionId, [s])
        else list.push(s)
      }
      if (bySession.size === 0) return
      const sessions = [...bySession.keys()]
      const pipeline = this.options.redis.pipeline()
      for (const sid of sessions) pipeline.exists(revokedSessionKey(sid))
      const results = await pipeline.exec() ?? []
      results.forEach(([err, revoked], i) => {
        if (err !== null || revoked !== 1) return
        for (const s of bySession.get(sessions[i] as string) ?? []) s.end('revoked')
      })
    } catch (err) {
      // Like token verification: while Redis is down, revocations wait (unexpired tokens are accepted).
      this.options.log.warn({ err }, 'live sessions could not be checked for revocation')
    } finally {
      this.checking = false
    }
  }

  /** Ends every stream (SSE end, WebSocket 1001). */
  endAll (why: CloseReason): void {
    for (const s of [...this.streams]) s.end(why)
  }

  stop (): void {
    for (const t of this.timers) clearInterval(t)
    this.endAll('shutdown')
    this.sub.disconnect()
  }
}
