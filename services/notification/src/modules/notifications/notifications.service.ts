// The inbox rules: a user sees only their own notifications (another user's is a 404), and every change
// is published for live delivery once it committed.
import { decodeIdCursor, encodeCursor, page } from '@holo/shared'
import { errors } from '../../errors.js'
import type { InboxCache, InboxView } from './notifications.cache.js'
import type { NotificationsPublisher } from './notifications.publisher.js'
import type { NotificationsRepository } from './notifications.repository.js'
import type { NotificationItem } from './notifications.types.js'

const CURSOR_KIND = 'notifications'

export class NotificationsService {
  constructor (
    private readonly repo: NotificationsRepository,
    private readonly publisher: NotificationsPublisher,
    private readonly cache: InboxCache
  ) {}

  /** A page of the inbox as served JSON (`{items, nextCursor}`); first pages come from the cache when current. */
  async list (userId: string, q: { unread?: boolean, cursor?: string, limit: number }): Promise<string> {
    const unread = q.unread === true
    if (q.cursor !== undefined) {
      return JSON.stringify(await this.page(userId, unread, decodeIdCursor(q.cursor, CURSOR_KIND), q.limit))
    }
    return await this.cached(userId, { page: { unread, limit: q.limit } },
      async () => await this.page(userId, unread, undefined, q.limit))
  }

  /** `{count}` of unread notifications as served JSON. */
  async unreadCount (userId: string): Promise<string> {
    return await this.cached(userId, 'unread-count', async () => ({ count: await this.repo.unreadCount(userId) }))
  }

  private async page (
    userId: string, unread: boolean, before: string | undefined, limit: number
  ): Promise<{ items: NotificationItem[], nextCursor: string | null }> {
    const rows = await this.repo.list(userId, { unread, before, limit: limit + 1 })
    const { items, nextCursor } = page(rows, limit, (r) => r, (r) => encodeCursor(CURSOR_KIND, [r.id]))
    return { items, nextCursor }
  }

  private async cached (userId: string, view: InboxView, load: () => Promise<unknown>): Promise<string> {
    const { hit, generation } = await this.cache.get(userId, view)
    if (hit !== undefined) return hit
    const json = JSON.stringify(await load())
    await this.cache.fill(userId, view, generation, json)
    return json
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
