// The notification stream for web and mobile clients: a small typed helper
// over the service's Server-Sent Events (docs/notifications.md, "Live
// delivery"). It asks for a single-use ticket with the access token (tokens
// never go in a URL), reads the stream with fetch (browsers and Node alike),
// and after a drop reconnects with a fresh ticket and the last id it saw, so
// the server sends exactly what was missed.
import type { paths as NotificationPaths } from './notification.js'

/** A notification as the inbox and the stream carry it. */
export type LiveNotification = NotificationPaths['/api/v1/notifications']['get']['responses'][200]['content'][
  'application/json']['items'][number]

export interface NotificationStreamOptions {
  /** The gateway (or the service) origin, e.g. https://api.holo.cards */
  baseUrl: string
  /** Called before every (re)connection: the current access token (refresh it here when needed). */
  accessToken: () => string | Promise<string>
  onNotification?: (notification: LiveNotification) => void
  onUnread?: (count: number) => void
  /** A notification was replaced (a collapsed one changed) or deleted. */
  onRemoved?: (id: string) => void
  /** The token that opened the stream expired: the helper reconnects with `accessToken()` again. */
  onReauth?: () => void
  /** Resume after this notification id (e.g. the newest one the app shows). */
  lastEventId?: string
  /** Wait before reconnecting after a drop; default 2 s (the server's `retry`), doubled while it keeps failing. */
  retryMs?: number
  /**
   * The server refused the caller (401/403 on the ticket: a revoked session, a dead token): the helper
   * stops; sign in again and open a new stream. Other failures are retried.
   */
  onRefused?: (status: number) => void
  fetch?: typeof fetch
}

export interface NotificationStream {
  /** The id of the last notification received: pass it as `lastEventId` to resume later. */
  lastEventId: () => string | undefined
  close: () => void
}

interface Frame { event: string, id?: string, data: string }

class Refused extends Error {
  constructor (readonly status: number) { super(`the notification stream refused the caller: ${status}`) }
}

/** Splits an SSE byte stream into frames (events; comments and retry lines are skipped). */
async function * frames (body: ReadableStream<Uint8Array>): AsyncGenerator<Frame> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let pending = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      pending += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n')
      let at: number
      while ((at = pending.indexOf('\n\n')) >= 0) {
        const frame: Frame = { event: 'message', data: '' }
        for (const line of pending.slice(0, at).split('\n')) {
          const colon = line.indexOf(':')
          if (colon <= 0) continue
          const field = line.slice(0, colon)
          const value = line.slice(colon + 1).replace(/^ /, '')
          if (field === 'event') frame.event = value
          else if (field === 'id') frame.id = value
          else if (field === 'data') frame.data += frame.data === '' ? value : `\n${value}`
        }
        pending = pending.slice(at + 2)
        if (frame.data !== '') yield frame
      }
    }
  } finally {
    // A stopped reader (a callback threw, the stream was closed) must not leave the connection open.
    await reader.cancel().catch(() => {})
  }
}

/** Opens the caller's notification stream and keeps it open until `close()`. */
export function openNotificationStream (o: NotificationStreamOptions): NotificationStream {
  const doFetch = o.fetch ?? fetch
  const base = o.baseUrl.replace(/\/$/, '')
  let last = o.lastEventId
  let closed = false
  let abort = new AbortController()

  const connectOnce = async (): Promise<void> => {
    const token = await o.accessToken()
    const issued = await doFetch(`${base}/api/v1/notifications/stream-ticket`, {
      method: 'POST', headers: { authorization: `Bearer ${token}` }, signal: abort.signal
    })
    if (issued.status === 401 || issued.status === 403) throw new Refused(issued.status)
    if (!issued.ok) throw new Error(`stream ticket refused: ${issued.status}`)
    const { ticket } = await issued.json() as { ticket: string }
    const query = new URLSearchParams({ ticket, ...(last !== undefined ? { lastEventId: last } : {}) })
    const res = await doFetch(`${base}/api/v1/notifications/stream?${query.toString()}`, {
      headers: { accept: 'text/event-stream' }, signal: abort.signal
    })
    if (!res.ok || res.body === null) throw new Error(`stream refused: ${res.status}`)
    for await (const frame of frames(res.body)) {
      const data = JSON.parse(frame.data) as Record<string, unknown>
      if (frame.event === 'notification') {
        if (frame.id !== undefined) last = frame.id
        o.onNotification?.(data as unknown as LiveNotification)
      } else if (frame.event === 'unread') o.onUnread?.(Number(data.count))
      else if (frame.event === 'removed') o.onRemoved?.(String(data.id))
      else if (frame.event === 'reauth') o.onReauth?.()
    }
  }

  void (async () => {
    let failures = 0
    while (!closed) {
      const started = Date.now()
      try {
        await connectOnce()
      } catch (err) {
        if (err instanceof Refused) {
          closed = true
          o.onRefused?.(err.status)
          break
        }
        // A drop or a network error: try again after the pause.
      }
      if (closed) break
      // A stream that lived a while starts the backoff again; quick failures double it (up to a minute).
      failures = Date.now() - started > 30_000 ? 0 : failures + 1
      const base = o.retryMs ?? 2000
      await new Promise((resolve) => setTimeout(resolve, Math.min(60_000, base * 2 ** Math.max(0, failures - 1))))
      abort = new AbortController()
    }
  })()

  return {
    lastEventId: () => last,
    close: () => { closed = true; abort.abort() }
  }
}
