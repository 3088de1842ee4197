// The inbox as the API and live delivery read it. Ids are UUIDv7 that grow per user in commit order, so
// "newer than X" is "id > X".
import type pg from 'pg'
import { directQuery } from '@holo/shared'
import type { PrismaClient, Notification as NotificationRow } from '../../generated/prisma/client.js'
import type { NotificationItem, NotificationType } from './notifications.types.js'

export const toNotification = (r: NotificationRow): NotificationItem => ({
  id: r.id,
  type: r.type as NotificationType,
  title: r.title,
  body: r.body,
  data: (r.data ?? {}) as Record<string, unknown>,
  createdAt: r.createdAt.toISOString(),
  readAt: r.readAt?.toISOString() ?? null
})

export class NotificationsRepository {
  constructor (
    private readonly prisma: PrismaClient,
    /** The pool under Prisma (`adapter.pool`), for the unread counts read after every change. */
    private readonly pool: pg.Pool
  ) {}

  /** Newest first, ids below `before` when given; `limit` rows. */
  async list (
    userId: string, o: { unread: boolean, before?: string, limit: number }
  ): Promise<NotificationItem[]> {
    const rows = await this.prisma.notification.findMany({
      where: {
        userId,
        ...(o.unread ? { readAt: null } : {}),
        ...(o.before === undefined ? {} : { id: { lt: o.before } })
      },
      orderBy: { id: 'desc' },
      take: o.limit
    })
    return rows.map(toNotification)
  }

  /**
   * The user's notifications made after `afterId` (null: from the start), oldest first, at most `limit`: what a
   * client that last saw `afterId` missed. Notifications changed since were re-made with new ids, so they are
   * in it; removed ones are not (a client drops ids it holds that are not in its inbox any more).
   */
  async since (userId: string, afterId: string | null, limit: number): Promise<NotificationItem[]> {
    const rows = await this.prisma.notification.findMany({
      where: { userId, ...(afterId === null ? {} : { id: { gt: afterId } }) },
      orderBy: { id: 'asc' },
      take: limit
    })
    return rows.map(toNotification)
  }

  async unreadCount (userId: string): Promise<number> {
    return await this.prisma.notification.count({ where: { userId, readAt: null } })
  }

  /**
   * The unread counts of several users (0 for those with none), in one query: after every consumer commit, so
   * a prepared statement sent to the pool directly (through Prisma, even as raw SQL, this one query was 7 % of
   * the service's CPU while it delivered 200 likes/s: `perf record`, 2026-12-02).
   */
  async unreadCounts (userIds: string[]): Promise<Map<string, number>> {
    const { rows } = await directQuery<{ userId: string, n: number }>(this.pool,
      `SELECT user_id::text AS "userId", count(*)::int AS n FROM notifications
        WHERE user_id = ANY($1::uuid[]) AND read_at IS NULL GROUP BY user_id`, [userIds])
    const counts = new Map(userIds.map((u) => [u, 0]))
    for (const r of rows) counts.set(r.userId, r.n)
    return counts
  }

  async find (userId: string, id: string): Promise<NotificationItem | null> {
    const row = await this.prisma.notification.findFirst({ where: { id, userId } })
    return row === null ? null : toNotification(row)
  }

  /** Marks one read; the number of rows that changed (0 when it was read already or is not the user's). */
  async markRead (userId: string, id: string): Promise<number> {
    return (await this.prisma.notification.updateMany({
      where: { id, userId, readAt: null }, data: { readAt: new Date() }
    })).count
  }

  /** Marks every unread one read, up to and including `upTo` when given; how many changed. */
  async markAllRead (userId: string, upTo?: string): Promise<number> {
    return (await this.prisma.notification.updateMany({
      where: { userId, readAt: null, ...(upTo === undefined ? {} : { id: { lte: upTo } }) },
      data: { readAt: new Date() }
    })).count
  }

  /** Deletes one (and mail it had queued); the deleted row, or null when it was not the user's. */
  async delete (userId: string, id: string): Promise<NotificationItem | null> {
    return await this.prisma.$transaction(async (tx) => {
      const row = await tx.notification.findFirst({ where: { id, userId } })
      if (row === null) return null
      await tx.emailItem.deleteMany({ where: { notificationId: id } })
      const gone = await tx.notification.deleteMany({ where: { id, userId } })
      return gone.count > 0 ? toNotification(row) : null
    })
  }
}
