// A Server-Sent Events client for tests: fetch's streaming body, parsed into events and comments.
export interface SseEvent { event: string, id?: string, data: string }

export interface SseClient {
  status: number
  headers: Headers
  events: SseEvent[]
  comments: string[]
  /** The body as read so far (problem+json for a refused stream). */
  text: () => string
  ended: () => boolean
  close: () => void
}

/** Opens an SSE stream and reads it in the background. */
export async function openSse (url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const abort = new AbortController()
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal })
  const events: SseEvent[] = []
  const comments: string[] = []
  let raw = ''
  let pending = ''
  let ended = false
  const reader = res.body?.getReader()
  const decoder = new TextDecoder()
  void (async () => {
    try {
      for (;;) {
        if (reader === undefined) break
        const { value, done } = await reader.read()
        if (done) break
        const chunk = decoder.decode(value, { stream: true })
        raw += chunk
        pending += chunk
        let at: number
        while ((at = pending.indexOf('\n\n')) >= 0) {
          const block = pending.slice(0, at)
          pending = pending.slice(at + 2)
          const e: SseEvent = { event: 'message', data: '' }
          let isEvent = false
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim())
            else if (line.startsWith('id: ')) e.id = line.slice(4)
            else if (line.startsWith('event: ')) { e.event = line.slice(7); isEvent = true }
            else if (line.startsWith('data: ')) { e.data += line.slice(6); isEvent = true }
          }
          if (isEvent) events.push(e)
        }
      }
    } catch {
      // aborted
    } finally {
      ended = true
    }
  })()
  return {
    status: res.status,
    headers: res.headers,
    events,
    comments,
    text: () => raw,
    ended: () => ended,
    close: () => { void reader?.cancel().catch(() => {}) }
  }
}

export const notifications = (events: SseEvent[]): SseEvent[] => events.filter((e) => e.event === 'notification')
