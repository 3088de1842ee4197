// The card service's copy of the entitlements: written by the consumer (pg, in the applied_events
// transaction), read on every create or edit of a card on a premium template (Prisma, one indexed query).
import type pg from 'pg'
import type { PrismaClient } from '../../generated/prisma/client.js'

export interface EntitlementCopy {
  id: string
  userId: string
  product: 'template' | 'holo-plus'
  templateId: string | null
  validUntil: Date | null
  revoked: boolean
}

export interface Version { seq: number | null, time: Date }

export class EntitlementsWriter {
  constructor (private readonly tx: pg.PoolClient) {}

  /**
   * Sets the entitlement as the event says unless the copy holds a newer version: by subjectseq when both
   * have one, else by the event's time. An older event arriving later changes nothing.
   */
  async upsert (e: EntitlementCopy, v: Version): Promise<void> {
    await this.tx.query(
      `INSERT INTO entitlements (id, user_id, product, template_id, valid_until, revoked, seq, event_time)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (id) DO UPDATE SET
         valid_until = EXCLUDED.valid_until, revoked = EXCLUDED.revoked, seq = EXCLUDED.seq,
         event_time = EXCLUDED.event_time
       WHERE CASE WHEN EXCLUDED.seq IS NOT NULL AND entitlements.seq IS NOT NULL
         THEN EXCLUDED.seq > entitlements.seq
         ELSE EXCLUDED.event_time >= entitlements.event_time END`,
      [e.id, e.userId, e.product, e.templateId, e.validUntil, e.revoked, v.seq, v.time]
    )
  }
}

/** May this user use this premium template now? Checked against the copy, at this instant (expiry included). */
export type EntitlementCheck = (userId: string, templateId: string) => Promise<boolean>

export function entitlementCheck (prisma: PrismaClient): EntitlementCheck {
  return async (userId, templateId) => {
    const rows = await prisma.$queryRaw<Array<{ ok: number }>>`
      SELECT 1 AS ok FROM entitlements
      WHERE user_id = ${userId}::uuid AND NOT revoked AND (valid_until IS NULL OR valid_until > now())
        AND (template_id = ${templateId}::uuid OR product = 'holo-plus')
      LIMIT 1`
    return rows.length > 0
  }
}
