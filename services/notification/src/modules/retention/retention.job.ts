// Hourly pruning: notifications older than NOTIFICATIONS_RETENTION_DAYS unless among the user's newest
// NOTIFICATIONS_KEEP_PER_USER (whichever keeps more), like groups whose window is long over, and applied event
// ids that can no longer come back.
import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import { pruneApplied } from '../ingest/ingest.consumer.js'

export interface RetentionSettings {
  retentionDays: number
  keepPerUser: number
  likeWindowSeconds: number
  dedupeKeepDays: number
}

export interface Pruned { notifications: number, likeGroups: number, appliedEvents: number }

/** After notifications of these users were pruned (their cached reads are ruled stale). */
export type OnPruned = (userIds: Set<string>) => Promise<void>

export async function prune (
  pool: pg.Pool, s: RetentionSettings, onPruned: OnPruned, now = new Date()
): Promise<Pruned> {
  const cutoff = new Date(now.getTime() - s.retentionDays * 86_400_000)
  const notifications = await pool.query(
    `DELETE FROM notifications n USING (
       SELECT id FROM (
         SELECT id, created_at, row_number() OVER (PARTITION BY user_id ORDER BY id DESC) AS rank
           FROM notifications
          WHERE user_id IN (SELECT DISTINCT user_id FROM notifications WHERE created_at < $1)
       ) ranked
       WHERE rank > $2 AND created_at < $1
     ) old WHERE n.id = old.id
     RETURNING n.user_id`, [cutoff, s.keepPerUser])
  if (notifications.rows.length > 0) {
    await onPruned(new Set(notifications.rows.map((r: { user_id: string }) => r.user_id)))
  }
  // A group can only take likes while its window is open; a day's margin covers late deliveries.
  const groups = await pool.query(
    'DELETE FROM like_groups WHERE started_at < $1',
    [new Date(now.getTime() - s.likeWindowSeconds * 1000 - 86_400_000)])
  return {
    notifications: notifications.rowCount ?? 0,
    likeGroups: groups.rowCount ?? 0,
    appliedEvents: await pruneApplied(pool, s.dedupeKeepDays, now)
  }
}

/** Runs prune every `everyMs` (first run after one period); returns the stop function. */
export function scheduleRetention (
  pool: pg.Pool, s: RetentionSettings, onPruned: OnPruned, log: FastifyBaseLogger, everyMs = 3_600_000
): () => void {
  const timer = setInterval(() => {
    prune(pool, s, onPruned)
      .then((n) => { log.info(n, 'pruned old notifications') })
      .catch((err: unknown) => { log.warn({ err }, 'pruning notifications failed; will try again') })
  }, everyMs)
  timer.unref()
  return () => { clearInterval(timer) }
}
