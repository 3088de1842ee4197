// Live delivery's input: after each committed change of a user's inbox, one Redis PUBLISH per message on
// `<NOTIFICATIONS_CHANNEL_PREFIX>user:<userId>`. Publishing is best effort (the change is committed already):
// a client that missed a message resumes with the repository's since().
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { InboxCache } from './notifications.cache.js'
import type { NotificationItem } from './notifications.types.js'

/** The messages of the live contract, as JSON on the user's channel. */
export type LiveMessage =
  | { kind: 'notification', notification: NotificationItem }
  | { kind: 'removed', id: string }
  | { kind: 'unread', count: number }

/** What one committed change did to one user's inbox, in order: removals first, then new ids. */
export interface InboxChange {
  userId: string
  removed: string[]
  added: NotificationItem[]
  /** Whether the unread count may have changed (it is read again after the commit and published). */
  unreadChanged: boolean
}

/** The channel of a user's live messages. */
export const userChannel = (prefix: string, userId: string): string => `${prefix}user:${userId}`

export class NotificationsPublisher {
  constructor (
    private readonly redis: Redis,
    private readonly prefix: string,
    /** The user's unread count now (read after the commit). */
    private readonly unreadCount: (userId: string) => Promise<number>,
    private readonly log: FastifyBaseLogger,
    /** Cached pages and counts of the changed inboxes are ruled stale first. */
    private readonly cache?: InboxCache
  ) {}

  channel (userId: string): string { return userChannel(this.prefix, userId) }

  /**
   * Publishes committed changes: each removed id, each new notification, then the unread count. The
   * changed inboxes' cached reads are invalidated before anything is announced.
   */
  async publish (changes: readonly InboxChange[]): Promise<void> {
    await this.cache?.invalidate(changes.map((c) => c.userId))
    for (const c of changes) {
      try {
        const messages: LiveMessage[] = [
          ...c.removed.map((id): LiveMessage => ({ kind: 'removed', id })),
          ...c.added.map((notification): LiveMessage => ({ kind: 'notification', notification }))
        ]
        if (c.unreadChanged) messages.push({ kind: 'unread', count: await this.unreadCount(c.userId) })
        if (messages.length === 0) continue
        const pipeline = this.redis.pipeline()
        for (const m of messages) pipeline.publish(this.channel(c.userId), JSON.stringify(m))
        for (const [err] of await pipeline.exec() ?? []) if (err !== null) throw err
      } catch (err) {
        this.log.warn({ err, userId: c.userId }, 'live notification messages could not be published')
      }
    }
  }
}
