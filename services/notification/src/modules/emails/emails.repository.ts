// The email job's reads and writes. A schedule row (user, type) is locked FOR UPDATE SKIP LOCKED while its mail
// is sent, so instances share the due mail without sending any twice, and an effect queueing more for the same
// user and type waits for that commit (then finds last_sent_at and gathers).
import type pg from 'pg'
import { defaultChannels, isSecurityType, type NotificationType } from '../notifications/notifications.types.js'

export interface DueSchedule { userId: string, type: NotificationType }
export interface QueuedMail { id: string, subject: string, text: string, html: string }

export class EmailsRepository {
  constructor (private readonly tx: pg.PoolClient) {}

  async lockDue (): Promise<DueSchedule | null> {
    const r = await this.tx.query<{ user_id: string, type: string }>(
      `SELECT user_id, type FROM email_schedules WHERE due_at <= now() ORDER BY due_at LIMIT 1
       FOR UPDATE SKIP LOCKED`)
    const row = r.rows[0]
    return row === undefined ? null : { userId: row.user_id, type: row.type as NotificationType }
  }

  async items (s: DueSchedule): Promise<QueuedMail[]> {
    const r = await this.tx.query<QueuedMail>(
      `SELECT id, subject, text, html FROM email_items WHERE user_id = $1 AND type = $2
        ORDER BY created_at, id LIMIT 200`, [s.userId, s.type])
    return r.rows
  }

  async address (userId: string): Promise<string | null> {
    const r = await this.tx.query<{ email: string | null }>('SELECT email FROM users WHERE user_id = $1', [userId])
    return r.rows[0]?.email ?? null
  }

  /** Whether the user still wants this type by mail (they may have unsubscribed since it was queued). */
  async emailOn (s: DueSchedule): Promise<boolean> {
    if (isSecurityType(s.type)) return true
    const r = await this.tx.query<{ email: boolean }>(
      'SELECT email FROM preferences WHERE user_id = $1 AND type = $2', [s.userId, s.type])
    return r.rows[0]?.email ?? defaultChannels(s.type).email
  }

  /** Forgets sent (or dropped) items; `sent` marks the time the gathering period counts from. */
  async done (s: DueSchedule, ids: string[], sent: boolean): Promise<void> {
    await this.tx.query('DELETE FROM email_items WHERE id = ANY($1::uuid[])', [ids])
    const more = await this.tx.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM email_items WHERE user_id = $1 AND type = $2', [s.userId, s.type])
    // Items beyond one mail's limit stay due at once.
    await this.tx.query(
      `UPDATE email_schedules SET due_at = CASE WHEN $3 THEN now() END,
         last_sent_at = CASE WHEN $4 THEN now() ELSE last_sent_at END
       WHERE user_id = $1 AND type = $2`, [s.userId, s.type, (more.rows[0]?.n ?? 0) > 0, sent])
  }

  /** After a failed send: try again later. */
  static async postpone (pool: pg.Pool, s: DueSchedule, seconds: number): Promise<void> {
    await pool.query(
      `UPDATE email_schedules SET due_at = now() + make_interval(secs => $3) WHERE user_id = $1 AND type = $2`,
      [s.userId, s.type, seconds])
  }
}
