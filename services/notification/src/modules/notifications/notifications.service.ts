// The inbox rules: a user sees only their own notifications (another user's is a 404), and every change
// is published for live delivery once it committed.
import { decodeIdCursor, encodeCursor, page } from '@holo/shared'
import { errors } from '../../errors.js'
import type { NotificationsPublisher } from './notifications.publisher.js'
import type { NotificationsRepository } from './notifications.repository.js'
import type { NotificationItem } from './notifications.types.js'

const CURSOR_KIND = 'notifications'

export class NotificationsService {
  constructor (
    private readonly repo: NotificationsRepository,
    private readonly publisher: NotificationsPublisher
  ) {}

  async list (
    userId: string, q: { unread?: boolean, cursor?: string, limit: number }
  ): Promise<{ items: NotificationItem[], nextCursor: string | null }> {
    const before = q.cursor === undefined ? undefined : decodeIdCursor(q.cursor, CURSOR_KIND)
    const rows = await this.repo.list(userId, { unread: q.unread === true, before, limit: q.limit + 1 })
    const { items, nextCursor } = page(rows, q.limit, (r) => r, (r) => encodeCursor(CURSOR_KIND, [r.id]))
    return { items, nextCursor }
  }

  async unreadCount (userId: string): Promise<number> {
    return await this.repo.unreadCount(userId)
  }

  async markRead (userId: string, id: string): Promise<void> {
    const changed = await this.repo.markRead(userId, id)
    if (changed === 0) {
      if (await this.repo.find(userId, id) === null) throw errors.NOTIFICATION_NOT_FOUND()
      return
    }
    await this.publisher.publish([{ userId, removed: [], added: [], unreadChanged: true }])
  }

  /** Marks all read (up to `upTo` when given); how many changed. */
  async markAllRead (userId: string, upTo?: string): Promise<number> {
    const changed = await this.repo.markAllRead(userId, upTo)
    if (changed > 0) await this.publisher.publish([{ userId, removed: [], added: [], unreadChanged: true }])
    return changed
  }

  async delete (userId: string, id: string): Promise<void> {
    const gone = await this.repo.delete(userId, id)
    if (gone === null) throw errors.NOTIFICATION_NOT_FOUND()
    await this.publisher.publish([{ userId, removed: [id], added: [], unreadChanged: gone.readAt === null }])
  }
}
