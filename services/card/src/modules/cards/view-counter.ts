// Counts reads of cards by anyone but their owner, for analytics. A read only
// bumps a number in memory (no I/O: a cached GET stays as fast as it was);
// every few seconds each instance writes one holo.card.views_counted.v1 per
// viewed card into the outbox, in one statement. Stopping the app writes what
// is left; a process that crashes loses at most one interval of views.
import type { FastifyInstance } from 'fastify'
import type { HoloEvent } from '@holo/events'
import { event } from '@holo/shared'

/** Cards per INSERT of a flush. */
const CHUNK = 1000

export class ViewCounter {
  private counts = new Map<string, number>()
  private since = new Date()

  constructor (private readonly write: (events: readonly HoloEvent[]) => Promise<void>) {}

  count (cardId: string): void {
    this.counts.set(cardId, (this.counts.get(cardId) ?? 0) + 1)
  }

  /** Writes the counts since the last flush; on failure they are kept for the next one. */
  async flush (): Promise<void> {
    if (this.counts.size === 0) return
    const counts = this.counts
    const from = this.since
    const to = new Date()
    this.counts = new Map()
    this.since = to
    const events = [...counts].map(([cardId, views]) => event('holo.card.views_counted.v1', {
      subject: cardId, data: { views, from: from.toISOString(), to: to.toISOString() }
    }))
    let written = 0
    try {
      for (; written < events.length; written += CHUNK) await this.write(events.slice(written, written + CHUNK))
    } catch (err) {
      for (const e of events.slice(written)) this.counts.set(e.subject, (this.counts.get(e.subject) ?? 0) + e.data.views)
      if (written === 0) this.since = from
      throw err
    }
  }

  /** Flushes every `intervalMs` while the app runs, and once more when it closes. */
  schedule (app: FastifyInstance, intervalMs: number): void {
    let timer: NodeJS.Timeout | undefined
    let running: Promise<void> = Promise.resolve()
    const tick = (): void => {
      running = running.then(async () => { await this.flush() })
        .catch((err: unknown) => { app.log.warn({ err }, 'card views could not be written; kept for the next flush') })
    }
    app.addHook('onReady', async () => { timer = setInterval(tick, intervalMs).unref() })
    app.addHook('onClose', async () => {
      clearInterval(timer)
      tick()
      await running
    })
  }
}
