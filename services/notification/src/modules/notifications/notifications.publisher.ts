// Live delivery's input: after each committed change of a user's inbox, one Redis PUBLISH per message on
// `<NOTIFICATIONS_CHANNEL_PREFIX>user:<userId>`. Publishing is best effort (the change is committed already):
// a client that missed a message resumes with the repository's since().
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { InboxCache } from './notifications.cache.js'
import type { NotificationItem } from './notifications.types.js'

/** The messages of the live contract, as JSON on the user's channel. */
export type LiveMessage =
  /** `previousId`: the id handed out just before it in the user's inbox (a stream that sent that one is gap-free). */
  | { kind: 'notification', notification: NotificationItem, previousId?: string }
  | { kind: 'removed', id: string }
  | { kind: 'unread', count: number }

/** What one committed change did to one user's inbox, in order: removals first, then new ids. */
export interface InboxChange {
  userId: string
  removed: string[]
  added: NotificationItem[]
  /** For each added id, the id handed out just before it (when known): lets streams skip reading the inbox. */
  previousIds?: Record<string, string>
  /** Whether the unread count may have changed (it is read again after the commit and published). */
  unreadChanged: boolean
}

/** The channel of a user's live messages. */
export const userChannel = (prefix: string, userId: string): string => `${prefix}user:${userId}`

export class NotificationsPublisher {
  constructor (
    private readonly redis: Redis,
    private readonly prefix: string,
    /** The users' unread counts now (read after the commit), in one query. */
    private readonly unreadCounts: (userIds: string[]) => Promise<Map<string, number>>,
    private readonly log: FastifyBaseLogger,
    /** Cached pages and counts of the changed inboxes are ruled stale first. */
    private readonly cache?: InboxCache
  ) {}

  channel (userId: string): string { return userChannel(this.prefix, userId) }

  /**
   * Publishes committed changes: each removed id, each new notification, then the unread count. The changed
   * inboxes' cached reads are invalidated before anything is announced (the counts are read meanwhile: both
   * follow the commit, neither needs the other). One query reads every changed count and one pipeline carries
   * every message, however many users a batch of effects touched.
   */
  async publish (changes: readonly InboxChange[]): Promise<void> {
    if (changes.length === 0) return
    const counted = [...new Set(changes.filter((c) => c.unreadChanged).map((c) => c.userId))]
    // invalidate() never throws (a failure turns the cache off until purged).
    const invalidated = this.cache?.invalidate(changes.map((c) => c.userId))
    try {
      const counts = counted.length === 0 ? new Map<string, number>() : await this.unreadCounts(counted)
      await invalidated
      // A user's count once, after their last change of the batch.
      const lastCounted = new Map<string, number>()
      changes.forEach((c, i) => { if (c.unreadChanged) lastCounted.set(c.userId, i) })
      const pipeline = this.redis.pipeline()
      changes.forEach((c, i) => {
        const messages: LiveMessage[] = [
          ...c.removed.map((id): LiveMessage => ({ kind: 'removed', id })),
          ...c.added.map((notification): LiveMessage => ({
            kind: 'notification', notification, previousId: c.previousIds?.[notification.id]
          }))
        ]
        if (lastCounted.get(c.userId) === i) messages.push({ kind: 'unread', count: counts.get(c.userId) ?? 0 })
        for (const m of messages) pipeline.publish(this.channel(c.userId), JSON.stringify(m))
      })
      if (pipeline.length === 0) return
      for (const [err] of await pipeline.exec() ?? []) if (err !== null) throw err
    } catch (err) {
      this.log.warn({ err, users: changes.length }, 'live notification messages could not be published')
    }
  }
}
