// The consumer's reads and writes, in the transaction that records the event in applied_events. Directory
// updates are guarded by the subject's sequence (an older event arriving later changes nothing). Locks are
// taken in one order (a like group's advisory lock, then inbox heads sorted by user id) so instances never
// deadlock each other.
import type pg from 'pg'
import { preparedQuery } from '@holo/events'
import { after, uuidv7, ZERO_ID } from '../../ids.js'
import type {
  Channels, NotificationContent, NotificationItem, NotificationType
} from '../notifications/notifications.types.js'
import { defaultChannels, isSecurityType } from '../notifications/notifications.types.js'

export interface UserEntry { userId: string, email: string | null, username: string | null, displayName: string | null }
export interface CardEntry {
  cardId: string
  ownerId: string | null
  title: string | null
  visibility: string | null
  hidden: boolean
  deleted: boolean
  templateId: string | null
}
export interface CollectionEntry {
  collectionId: string
  ownerId: string | null
  name: string | null
  visibility: string | null
}
export interface LikeGroup { id: string, startedAt: Date, notificationId: string | null }
export interface Mail { subject: string, text: string, html: string }

const CARD_COLUMNS = 'card_id, owner_id, title, visibility, hidden, deleted, template_id'

/** A newer sequence wins; an event without one (never the case for the producers' events) always applies. */
const newer = (column: string, param: string): string =>
  `(${param}::bigint IS NULL OR ${column} IS NULL OR ${param}::bigint > ${column})`

/** The card directory's upsert: each field changes only for a newer subject sequence ($1–$7: cardParams). */
const UPSERT_CARD = `INSERT INTO cards (card_id, owner_id, title, title_seq, visibility, visibility_seq, hidden, hidden_seq,
                          template_id)
       VALUES ($1, $2, $3, CASE WHEN $3::text IS NOT NULL THEN $7::bigint END,
               $4, CASE WHEN $4::text IS NOT NULL THEN $7::bigint END,
               COALESCE($5::boolean, false), CASE WHEN $5::boolean IS NOT NULL THEN $7::bigint END, $6)
       ON CONFLICT (card_id) DO UPDATE SET
         owner_id = COALESCE(cards.owner_id, EXCLUDED.owner_id),
         template_id = COALESCE(cards.template_id, EXCLUDED.template_id),
         title = CASE WHEN $3::text IS NOT NULL AND ${newer('cards.title_seq', '$7')} THEN $3 ELSE cards.title END,
         title_seq = CASE WHEN $3::text IS NOT NULL AND ${newer('cards.title_seq', '$7')}
           THEN $7::bigint ELSE cards.title_seq END,
         visibility = CASE WHEN $4::text IS NOT NULL AND ${newer('cards.visibility_seq', '$7')}
           THEN $4 ELSE cards.visibility END,
         visibility_seq = CASE WHEN $4::text IS NOT NULL AND ${newer('cards.visibility_seq', '$7')}
           THEN $7::bigint ELSE cards.visibility_seq END,
         hidden = CASE WHEN $5::boolean IS NOT NULL AND ${newer('cards.hidden_seq', '$7')}
           THEN $5::boolean ELSE cards.hidden END,
         hidden_seq = CASE WHEN $5::boolean IS NOT NULL AND ${newer('cards.hidden_seq', '$7')}
           THEN $7::bigint ELSE cards.hidden_seq END`

const cardParams = (
  cardId: string, ownerId: string,
  fields: { title?: string, visibility?: string, hidden?: boolean, templateId?: string | null }, seq: number | null
): unknown[] => [cardId, ownerId, fields.title ?? null, fields.visibility ?? null, fields.hidden ?? null,
  fields.templateId ?? null, seq]

const USER_COLUMNS = 'user_id, email, username, display_name'

/** The like group of (owner $1, card $2) whose window ($4 seconds from its start) holds the time $3. */
const GROUP_AT = `SELECT id, started_at, notification_id FROM like_groups
  WHERE user_id = $1 AND card_id = $2 AND started_at <= $3 AND started_at > $3 - make_interval(secs => $4)
  ORDER BY started_at DESC LIMIT 1`
interface UserRow { user_id: string, email: string | null, username: string | null, display_name: string | null }
const toUser = (row: UserRow): UserEntry =>
  ({ userId: row.user_id, email: row.email, username: row.username, displayName: row.display_name })

/** A notification just made, and the id handed out before it in its user's inbox (ZERO_ID for the first). */
export interface Inserted { item: NotificationItem, previousId: string }

/** A group's likers, the latest first, and the directory entries known of the first two. */
export interface Likers { ids: string[], known: UserEntry[] }

/** A user's channels for a type: their preference or the default; security mail cannot be off. */
function channelsOf (type: NotificationType, chosen: Channels | undefined): Channels {
  const channels = chosen ?? defaultChannels(type)
  return isSecurityType(type) ? { ...channels, email: true } : channels
}
interface CardRow {
  card_id: string
  owner_id: string | null
  title: string | null
  visibility: string | null
  hidden: boolean
  deleted: boolean
  template_id: string | null
}
const toCard = (row: CardRow): CardEntry => ({
  cardId: row.card_id,
  ownerId: row.owner_id,
  title: row.title,
  visibility: row.visibility,
  hidden: row.hidden,
  deleted: row.deleted,
  templateId: row.template_id
})

interface NotificationRow {
  id: string
  type: string
  title: string
  body: string
  data: Record<string, unknown>
  created_at: Date
  read_at: Date | null
}

export const toItem = (r: NotificationRow): NotificationItem => ({
  id: r.id,
  type: r.type as NotificationType,
  title: r.title,
  body: r.body,
  data: r.data,
  createdAt: r.created_at.toISOString(),
  readAt: r.read_at?.toISOString() ?? null
})

/**
 * A new notification ($1 id, $2 user, $3–$6 type, title, body, data) under the user's inbox head: the head
 * moves to $1 unless it is ahead already (then nothing is inserted: see insertAfterHead), and like group $7, if
 * any, is linked to it. The CTEs h, n and g of one statement; HEAD_INSERT_COLUMNS is what it returns.
 */
const HEAD_INSERT = `h AS (
         INSERT INTO inbox_heads (user_id, last_id) VALUES ($2, $1) ON CONFLICT (user_id) DO UPDATE
         SET last_id = GREATEST(inbox_heads.last_id, EXCLUDED.last_id) RETURNING last_id),
       n AS (
         INSERT INTO notifications (id, user_id, type, title, body, data)
         SELECT $1, $2, $3::text, $4::text, $5::text, $6::jsonb FROM h WHERE h.last_id = $1
         RETURNING id, type, title, body, data, created_at, read_at),
       g AS (UPDATE like_groups SET notification_id = n.id FROM n WHERE like_groups.id = $7::uuid)`
/** previous_id: the head in the statement's snapshot, before it moved. */
const HEAD_INSERT_COLUMNS = 'h.last_id, n.*, (SELECT last_id FROM inbox_heads WHERE user_id = $2) AS previous_id'
type HeadInsertRow = NotificationRow & { last_id: string, previous_id: string | null }

/** The CTEs m and d deleting notification `param` and the mail it had queued; DELETED_COLUMNS counts them. */
const deleteWithMail = (param: string): string =>
  `m AS (DELETE FROM email_items WHERE notification_id = ${param} RETURNING 1),
       d AS (DELETE FROM notifications WHERE id = ${param} RETURNING 1)`
const DELETED_COLUMNS = '(SELECT count(*) FROM m)::int AS mail, (SELECT count(*) FROM d)::int AS deleted'

export class IngestRepository {
  constructor (private readonly tx: pg.PoolClient) {}

  /**
   * Every statement runs as a named prepared statement: each connection parses and plans it once, where the
   * upserts' planning cost as much as running them, once per event.
   */
  private async query<R extends pg.QueryResultRow = pg.QueryResultRow> (
    text: string, values: unknown[] = []
  ): Promise<pg.QueryResult<R>> {
    return await preparedQuery<R>(this.tx, text, values)
  }

  // Users

  async setUser (
    userId: string,
    fields: { email?: string, username?: string, displayName?: string | null },
    seq: number | null
  ): Promise<void> {
    const hasNames = fields.username !== undefined || fields.displayName !== undefined
    await this.query(
      `INSERT INTO users (user_id, email, email_seq, username, display_name, names_seq)
       VALUES ($1, $2, CASE WHEN $2::text IS NULL THEN NULL ELSE $6::bigint END, $3, $4,
               CASE WHEN $5 THEN $6::bigint END)
       ON CONFLICT (user_id) DO UPDATE SET
         email = CASE WHEN $2::text IS NOT NULL AND ${newer('users.email_seq', '$6')} THEN $2 ELSE users.email END,
         email_seq = CASE WHEN $2::text IS NOT NULL AND ${newer('users.email_seq', '$6')}
           THEN $6::bigint ELSE users.email_seq END,
         username = CASE WHEN $7 AND ${newer('users.names_seq', '$6')} THEN $3 ELSE users.username END,
         display_name = CASE WHEN $8 AND ${newer('users.names_seq', '$6')} THEN $4 ELSE users.display_name END,
         names_seq = CASE WHEN $5 AND ${newer('users.names_seq', '$6')} THEN $6::bigint ELSE users.names_seq END,
         updated_at = now()`,
      [userId, fields.email ?? null, fields.username ?? null, fields.displayName ?? null, hasNames, seq,
        fields.username !== undefined, fields.displayName !== undefined]
    )
  }

  async user (userId: string): Promise<UserEntry | null> {
    return (await this.users([userId]))[0] ?? null
  }

  /** The known ones of these users, in the order asked (unknown ones left out). */
  async users (userIds: readonly string[]): Promise<UserEntry[]> {
    const r = await this.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE user_id = ANY($1::uuid[])`, [userIds])
    const byId = new Map(r.rows.map((row) => [row.user_id, toUser(row)]))
    return userIds.flatMap((id) => byId.get(id) ?? [])
  }

  // Cards, templates, collections

  async setCard (
    cardId: string,
    ownerId: string,
    fields: { title?: string, visibility?: string, hidden?: boolean, templateId?: string | null },
    seq: number | null
  ): Promise<CardEntry> {
    const r = await this.query<CardRow>(`${UPSERT_CARD} RETURNING ${CARD_COLUMNS}`, cardParams(cardId, ownerId, fields, seq))
    return toCard(r.rows[0] as CardRow)
  }

  /**
   * The card's directory row after a like event (owner and sequence only), with its owner's channels for `type`
   * and the directory entry of the liker (`actorId`), in one statement.
   */
  async likedCard (
    cardId: string, ownerId: string, seq: number | null, type: NotificationType, actorId: string
  ): Promise<{ card: CardEntry, channels: Channels, actor: UserEntry | null }> {
    // The preference's columns renamed: users has an email column too.
    type Row = CardRow & { pref_in_app: boolean | null, pref_email: boolean | null }
      & { [K in keyof UserRow]: UserRow[K] | null }
    const r = await this.query<Row>(
      `WITH c AS (${UPSERT_CARD} RETURNING ${CARD_COLUMNS})
       SELECT c.*, p.in_app AS pref_in_app, p.email AS pref_email,
              ${USER_COLUMNS.split(', ').map((col) => `u.${col}`).join(', ')}
         FROM c LEFT JOIN preferences p ON p.user_id = $2 AND p.type = $8
         LEFT JOIN users u ON u.user_id = $9::uuid`,
      [...cardParams(cardId, ownerId, {}, seq), type, actorId])
    const row = r.rows[0] as Row
    const chosen = row.pref_in_app === null ? undefined : { inApp: row.pref_in_app, email: row.pref_email === true }
    return { card: toCard(row), channels: channelsOf(type, chosen), actor: row.user_id === null ? null : toUser(row as UserRow) }
  }

  /** Deleted is final: no later or earlier event brings a card back. */
  async deleteCard (cardId: string, ownerId: string): Promise<void> {
    await this.query(
      `INSERT INTO cards (card_id, owner_id, deleted) VALUES ($1, $2, true)
       ON CONFLICT (card_id) DO UPDATE SET deleted = true, owner_id = COALESCE(cards.owner_id, EXCLUDED.owner_id)`,
      [cardId, ownerId])
  }

  async card (cardId: string): Promise<CardEntry | null> {
    const r = await this.query<CardRow>(`SELECT ${CARD_COLUMNS} FROM cards WHERE card_id = $1`, [cardId])
    const row = r.rows[0]
    return row === undefined ? null : toCard(row)
  }

  /** The owners of the cards (not deleted) made from a template, with those cards' ids. */
  async cardsOfTemplate (templateId: string): Promise<Map<string, string[]>> {
    const r = await this.query<{ owner_id: string, card_id: string }>(
      `SELECT owner_id, card_id FROM cards WHERE template_id = $1 AND NOT deleted AND owner_id IS NOT NULL
       ORDER BY owner_id, card_id`, [templateId])
    const out = new Map<string, string[]>()
    for (const row of r.rows) out.set(row.owner_id, [...(out.get(row.owner_id) ?? []), row.card_id])
    return out
  }

  async setTemplate (templateId: string, name: string): Promise<void> {
    await this.query(
      'INSERT INTO templates (template_id, name) VALUES ($1, $2) ON CONFLICT (template_id) DO UPDATE SET name = $2',
      [templateId, name])
  }

  async templateName (templateId: string): Promise<string | null> {
    const r = await this.query<{ name: string | null }>(
      'SELECT name FROM templates WHERE template_id = $1', [templateId])
    return r.rows[0]?.name ?? null
  }

  async setCollection (collectionId: string, ownerId: string, name: string, visibility: string): Promise<void> {
    await this.query(
      `INSERT INTO collections (collection_id, owner_id, name, visibility) VALUES ($1, $2, $3, $4)
       ON CONFLICT (collection_id) DO UPDATE SET owner_id = $2, name = $3, visibility = $4`,
      [collectionId, ownerId, name, visibility])
  }

  async collection (collectionId: string): Promise<CollectionEntry | null> {
    const r = await this.query<{ collection_id: string, owner_id: string | null, name: string | null,
      visibility: string | null }>(
      'SELECT collection_id, owner_id, name, visibility FROM collections WHERE collection_id = $1', [collectionId])
    const row = r.rows[0]
    return row === undefined
      ? null
      : { collectionId: row.collection_id, ownerId: row.owner_id, name: row.name, visibility: row.visibility }
  }

  // Preferences

  async channels (userId: string, type: NotificationType): Promise<Channels> {
    const r = await this.query<{ in_app: boolean, email: boolean }>(
      'SELECT in_app, email FROM preferences WHERE user_id = $1 AND type = $2', [userId, type])
    const row = r.rows[0]
    return channelsOf(type, row === undefined ? undefined : { inApp: row.in_app, email: row.email })
  }

  // The inbox

  /**
   * Locks the users' inbox heads (sorted, so two effects never wait on each other in a cycle). Held to the
   * commit: one user's notifications are made one transaction at a time, so their ids grow in commit order.
   */
  async lockInboxes (userIds: readonly string[]): Promise<void> {
    for (const userId of [...new Set(userIds)].sort()) {
      await this.query(
        `INSERT INTO inbox_heads (user_id, last_id) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE
         SET last_id = inbox_heads.last_id`, [userId, ZERO_ID])
    }
  }

  /**
   * A new notification in the user's inbox, with an id greater than every id handed out before: the head's row
   * stays locked to the commit, so one user's ids grow in commit order. One statement (that also links the like
   * group `groupId` to it), unless another instance's clock ran ahead of this one's.
   */
  async insertNotification (
    userId: string, type: NotificationType, content: NotificationContent, groupId?: string
  ): Promise<Inserted> {
    const id = uuidv7()
    const values = [userId, type, content.title, content.body, JSON.stringify(content.data)]
    const r = await this.query<HeadInsertRow>(
      `WITH ${HEAD_INSERT} SELECT ${HEAD_INSERT_COLUMNS} FROM h LEFT JOIN n ON true`, [id, ...values, groupId ?? null])
    return await this.inserted(r.rows[0] as HeadInsertRow, userId, values, groupId)
  }

  /** The notification HEAD_INSERT made, or (the head ahead of this clock) the one made after the head. */
  private async inserted (
    row: HeadInsertRow, userId: string, values: unknown[], groupId: string | undefined
  ): Promise<Inserted> {
    // previous_id: the head before the statement (its snapshot), the id handed out just before this one.
    if (row.id !== null) return { item: toItem(row), previousId: row.previous_id ?? ZERO_ID }
    return await this.insertAfterHead(userId, values, row.last_id, groupId)
  }

  /**
   * insertNotification in place of notification `replaces` (a like group's, re-made when its likers change): the
   * old one and the mail it had queued (not sent yet) are deleted by the same statement.
   */
  async replaceNotification (
    replaces: string, userId: string, type: NotificationType, content: NotificationContent, groupId: string
  ): Promise<{ inserted: Inserted, deleted: boolean, mailPending: boolean }> {
    const id = uuidv7()
    const values = [userId, type, content.title, content.body, JSON.stringify(content.data)]
    type Row = HeadInsertRow & { mail: number, deleted: number }
    const r = await this.query<Row>(
      `WITH ${deleteWithMail('$8')}, ${HEAD_INSERT}
       SELECT ${HEAD_INSERT_COLUMNS}, ${DELETED_COLUMNS} FROM h LEFT JOIN n ON true`, [id, ...values, groupId, replaces])
    const row = r.rows[0] as Row
    return {
      inserted: await this.inserted(row, userId, values, groupId), deleted: row.deleted > 0, mailPending: row.mail > 0
    }
  }

  /**
   * When the head (`head`, its row locked by the statement that read it) is ahead of this clock: the notification
   * gets the next id after it, and the like group `groupId` is linked to that id.
   */
  private async insertAfterHead (
    userId: string, values: unknown[], head: string, groupId: string | undefined
  ): Promise<Inserted> {
    const next = after(head)
    await this.query('UPDATE inbox_heads SET last_id = $2 WHERE user_id = $1', [userId, next])
    const made = await this.query<NotificationRow>(
      `INSERT INTO notifications (id, user_id, type, title, body, data) VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING id, type, title, body, data, created_at, read_at`, [next, ...values])
    if (groupId !== undefined) await this.setGroupNotification(groupId, next)
    return { item: toItem(made.rows[0] as NotificationRow), previousId: head }
  }

  /** Deletes a notification and the mail it had queued (not sent yet). */
  async deleteNotification (id: string): Promise<{ deleted: boolean, mailPending: boolean }> {
    const r = await this.query<{ mail: number, deleted: number }>(
      `WITH ${deleteWithMail('$1')} SELECT ${DELETED_COLUMNS}`, [id])
    const row = r.rows[0] as { mail: number, deleted: number }
    return { deleted: row.deleted > 0, mailPending: row.mail > 0 }
  }

  // Like groups

  /** The group whose window holds `at`: started at or before it, less than `windowSeconds` before. */
  async likeGroupAt (userId: string, cardId: string, at: Date, windowSeconds: number): Promise<LikeGroup | null> {
    const r = await this.query<{ id: string, started_at: Date, notification_id: string | null }>(
      GROUP_AT, [userId, cardId, at, windowSeconds])
    const row = r.rows[0]
    return row === undefined ? null : { id: row.id, startedAt: row.started_at, notificationId: row.notification_id }
  }

  /**
   * For a like: the group whose window holds `at`, or else a new one whose first liker is `actorId` together with
   * its first notification (`first`, written for that sole liker; none when in-app is off), in one statement. The
   * new notification takes its id as insertNotification does (the user's inbox head locked to the commit). Call
   * after likedCard, in the same transaction: its statement reads like groups only after the card's row is locked.
   */
  async likeGroupFor (
    userId: string, cardId: string, at: Date, windowSeconds: number, actorId: string,
    first?: { type: NotificationType, content: NotificationContent }
  ): Promise<{ group: LikeGroup, made: true, inserted: Inserted | null } | { group: LikeGroup, made: false }> {
    const id = uuidv7()
    const notificationId = first === undefined ? null : uuidv7()
    const values = first === undefined
      ? [null, null, null, null]
      : [first.type, first.content.title, first.content.body, JSON.stringify(first.content.data)]
    type Row = { id: string, started_at: Date, notification_id: string | null, made: boolean, head: string | null,
      previous_id: string | null } & { [K in keyof NotificationRow]: NotificationRow[K] | null }
    const r = await this.query<Row>(
      `WITH f AS (${GROUP_AT}),
       g AS (INSERT INTO like_groups (id, user_id, card_id, started_at, notification_id)
             SELECT $5, $1, $2, $3, $7::uuid WHERE NOT EXISTS (SELECT 1 FROM f) RETURNING id, started_at),
       a AS (INSERT INTO like_group_actors (group_id, actor_id, liked_at) SELECT id, $6, $3 FROM g),
       h AS (INSERT INTO inbox_heads (user_id, last_id) SELECT $1, $7::uuid FROM g WHERE $7::uuid IS NOT NULL
             ON CONFLICT (user_id) DO UPDATE SET last_id = GREATEST(inbox_heads.last_id, EXCLUDED.last_id)
             RETURNING last_id),
       n AS (INSERT INTO notifications (id, user_id, type, title, body, data)
             SELECT $7::uuid, $1, $8::text, $9::text, $10::text, $11::jsonb FROM h WHERE h.last_id = $7::uuid
             RETURNING id, type, title, body, data, created_at, read_at)
       SELECT f.id, f.started_at, f.notification_id, false AS made, NULL::uuid AS head, NULL::uuid AS previous_id,
              NULL::uuid AS n_id, NULL::text AS type, NULL::text AS title, NULL::text AS body, NULL::jsonb AS data,
              NULL::timestamptz AS created_at, NULL::timestamptz AS read_at FROM f
       UNION ALL
       SELECT g.id, g.started_at, $7::uuid, true, h.last_id, (SELECT last_id FROM inbox_heads WHERE user_id = $1),
              n.id, n.type, n.title, n.body, n.data, n.created_at, n.read_at
         FROM g LEFT JOIN h ON true LEFT JOIN n ON true`,
      [userId, cardId, at, windowSeconds, id, actorId, notificationId, ...values])
    const row = r.rows[0] as (Row & { n_id: string | null }) | undefined
    if (row === undefined) throw new Error('likeGroupFor: no group found or made')
    const group = { id: row.id, startedAt: row.started_at, notificationId: row.notification_id }
    if (!row.made) return { group, made: false }
    if (first === undefined) return { group, made: true, inserted: null }
    if (row.head === null) throw new Error('likeGroupFor: the inbox head was not read')
    const inserted = await this.inserted({ ...row, id: row.n_id, last_id: row.head } as HeadInsertRow, userId,
      [userId, ...values], group.id)
    return { group: { ...group, notificationId: inserted.item.id }, made: true, inserted }
  }

  /**
   * Adds a liker and lists the group's likers, the latest first, with the directory entries of the first two;
   * null when they were in the group already.
   */
  async addLiker (groupId: string, actorId: string, at: Date): Promise<Likers | null> {
    // The statement's snapshot does not see its own insert: the new row comes from RETURNING.
    const r = await this.query<{ actor_id: string, added: boolean } & Partial<UserRow>>(
      `WITH ins AS (
         INSERT INTO like_group_actors (group_id, actor_id, liked_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING actor_id, liked_at),
       a AS (
         SELECT actor_id, liked_at FROM like_group_actors WHERE group_id = $1
         UNION ALL SELECT actor_id, liked_at FROM ins
         ORDER BY liked_at DESC, actor_id),
       firsts AS (SELECT actor_id FROM a LIMIT 2)
       SELECT a.actor_id, EXISTS (SELECT 1 FROM ins) AS added, ${USER_COLUMNS.split(', ').map((c) => `u.${c}`).join(', ')}
         FROM a LEFT JOIN users u ON u.user_id = a.actor_id AND a.actor_id IN (SELECT actor_id FROM firsts)
        ORDER BY a.liked_at DESC, a.actor_id`, [groupId, actorId, at])
    if (r.rows[0]?.added !== true) return null
    return {
      ids: r.rows.map((row) => row.actor_id),
      known: r.rows.slice(0, 2).flatMap((row) => row.user_id == null ? [] : [toUser(row as UserRow)])
    }
  }

  /** Takes a liker out; false when they were not in the group. */
  async removeLiker (groupId: string, actorId: string): Promise<boolean> {
    const r = await this.query(
      'DELETE FROM like_group_actors WHERE group_id = $1 AND actor_id = $2', [groupId, actorId])
    return (r.rowCount ?? 0) > 0
  }

  /** The group's likers, the latest first. */
  async likers (groupId: string): Promise<string[]> {
    const r = await this.query<{ actor_id: string }>(
      'SELECT actor_id FROM like_group_actors WHERE group_id = $1 ORDER BY liked_at DESC, actor_id', [groupId])
    return r.rows.map((row) => row.actor_id)
  }

  async setGroupNotification (groupId: string, notificationId: string | null): Promise<void> {
    await this.query('UPDATE like_groups SET notification_id = $2 WHERE id = $1', [groupId, notificationId])
  }

  async deleteLikeGroup (groupId: string): Promise<void> {
    await this.query('DELETE FROM like_groups WHERE id = $1', [groupId])
  }

  // Mail

  /**
   * Queues a mail for the email job. Security mail is due at once; other types at once when none of that user
   * and type went in the last `gatherSeconds`, else when that period ends (what comes meanwhile is gathered).
   * Returns whether it is due now.
   */
  async queueEmail (
    userId: string, type: NotificationType, notificationId: string | null, mail: Mail, gatherSeconds: number
  ): Promise<boolean> {
    await this.query(
      `INSERT INTO email_items (id, user_id, type, notification_id, subject, text, html)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [uuidv7(), userId, type, notificationId, mail.subject, mail.text, mail.html])
    const gather = isSecurityType(type) ? 0 : gatherSeconds
    const r = await this.query<{ due_now: boolean }>(
      `INSERT INTO email_schedules (user_id, type, due_at) VALUES ($1, $2, now())
       ON CONFLICT (user_id, type) DO UPDATE SET due_at = COALESCE(
         email_schedules.due_at,
         GREATEST(now(), email_schedules.last_sent_at + make_interval(secs => $3)),
         now())
       RETURNING due_at <= now() AS due_now`,
      [userId, type, gather])
    return r.rows[0]?.due_now ?? true
  }
}
