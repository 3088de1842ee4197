// What each event does: directory updates, notifications and queued mail. Pure rules over an IngestRepository,
// run by the consumer in the transaction that records the event (effect once); what changed in which inbox is
// collected in an EffectLog and published once the transaction committed.
import type { EventType, HoloEvent } from '@holo/events'
import type { InboxChange } from '../notifications/notifications.publisher.js'
import type {
  Channels, NotificationContent, NotificationItem, NotificationType
} from '../notifications/notifications.types.js'
import type { CardEntry, IngestRepository, Inserted, LikeGroup, Likers, UserEntry } from './ingest.repository.js'
import {
  SECURITY_TEXTS, cardAddedText, cardName, hiddenText, likedText, mailOf, nameOf, reportResolvedText,
  templateArchivedText, warnedText, welcomeText
} from './ingest.texts.js'

export const INGESTED_TYPES = [
  'holo.user.registered.v1',
  'holo.user.profile_updated.v1',
  'holo.user.email_verified.v1',
  'holo.user.logged_in.v1',
  'holo.user.password_changed.v1',
  'holo.user.password_reset.v1',
  'holo.user.roles_changed.v1',
  'holo.session.revoked.v1',
  'holo.card.created.v1',
  'holo.card.updated.v1',
  'holo.card.visibility_changed.v1',
  'holo.card.deleted.v1',
  'holo.card.hidden.v1',
  'holo.card.unhidden.v1',
  'holo.card.reports_resolved.v1',
  'holo.card.liked.v1',
  'holo.card.unliked.v1',
  'holo.template.created.v1',
  'holo.template.archived.v1',
  'holo.collection.created.v1',
  'holo.collection.card_added.v1'
] as const satisfies readonly EventType[]

export type IngestedType = typeof INGESTED_TYPES[number]

/** What an effect did, published and counted after its commit. */
export class EffectLog {
  readonly changes: InboxChange[] = []
  readonly created: NotificationType[] = []
  mailDue = false

  change (userId: string, removed: string[], added: Inserted[]): void {
    this.changes.push({
      userId,
      removed,
      added: added.map((a) => a.item),
      previousIds: Object.fromEntries(added.map((a) => [a.item.id, a.previousId])),
      unreadChanged: true
    })
    for (const a of added) this.created.push(a.item.type)
  }
}

export interface RuleSettings { likeWindowSeconds: number, gatherSeconds: number }

const seqOf = (event: HoloEvent): number | null => event.subjectseq ?? null

export async function applyEvent (
  event: HoloEvent<IngestedType>, repo: IngestRepository, log: EffectLog, s: RuleSettings
): Promise<void> {
  const notify = async (
    userId: string, type: NotificationType, content: NotificationContent, replaces: string | null = null
  ): Promise<NotificationItem | null> =>
    await deliver(repo, log, s, userId, type, content, replaces)

  switch (event.type) {
    case 'holo.user.registered.v1':
      await repo.setUser(event.subject, { email: event.data.email, username: event.data.username }, seqOf(event))
      await repo.lockInboxes([event.subject])
      await notify(event.subject, 'welcome', welcomeText(event.data.username))
      break
    case 'holo.user.profile_updated.v1': {
      const fields: { username?: string, displayName?: string | null } = {}
      if (event.data.username !== undefined) fields.username = event.data.username
      if (event.data.displayName !== undefined) fields.displayName = event.data.displayName
      if (Object.keys(fields).length > 0) await repo.setUser(event.subject, fields, seqOf(event))
      break
    }
    case 'holo.user.email_verified.v1':
      await repo.setUser(event.subject, { email: event.data.email }, seqOf(event))
      await repo.lockInboxes([event.subject])
      await notify(event.subject, 'security.email_verified',
        SECURITY_TEXTS['security.email_verified'](event.data.email))
      break
    case 'holo.user.logged_in.v1':
      if (!event.data.newDevice) break
      await repo.lockInboxes([event.subject])
      await notify(event.subject, 'security.new_login',
        SECURITY_TEXTS['security.new_login'](event.data.ip, event.data.userAgent))
      break
    case 'holo.user.password_changed.v1':
      await repo.lockInboxes([event.subject])
      await notify(event.subject, 'security.password_changed',
        SECURITY_TEXTS['security.password_changed'](event.data.revokedSessions))
      break
    case 'holo.user.password_reset.v1':
      await repo.lockInboxes([event.subject])
      await notify(event.subject, 'security.password_reset',
        SECURITY_TEXTS['security.password_reset'](event.data.revokedSessions))
      break
    case 'holo.user.roles_changed.v1':
      await repo.lockInboxes([event.subject])
      await notify(event.subject, 'security.roles_changed',
        SECURITY_TEXTS['security.roles_changed'](event.data.roles, event.data.previousRoles, event.actorid))
      break
    case 'holo.session.revoked.v1': {
      // Only a session someone else (an administrator) ended: the user knows when they sign out themselves.
      const actor = event.actorid
      if (actor === undefined || actor === event.data.userId) break
      await repo.lockInboxes([event.data.userId])
      await notify(event.data.userId, 'security.session_revoked',
        SECURITY_TEXTS['security.session_revoked'](event.subject, event.data.reason, actor))
      break
    }
    case 'holo.card.created.v1':
      await repo.setCard(event.subject, event.data.ownerId, {
        title: event.data.title, visibility: event.data.visibility, templateId: event.data.templateId
      }, seqOf(event))
      break
    case 'holo.card.updated.v1':
      await repo.setCard(event.subject, event.data.ownerId,
        event.data.title === undefined ? {} : { title: event.data.title }, seqOf(event))
      break
    case 'holo.card.visibility_changed.v1':
      await repo.setCard(event.subject, event.data.ownerId, { visibility: event.data.visibility }, seqOf(event))
      break
    case 'holo.card.deleted.v1':
      await repo.deleteCard(event.subject, event.data.ownerId)
      break
    case 'holo.card.hidden.v1':
    case 'holo.card.unhidden.v1': {
      const hidden = event.type === 'holo.card.hidden.v1'
      await repo.setCard(event.subject, event.data.ownerId, { hidden }, seqOf(event))
      const owner = event.data.ownerId
      if (event.actorid === owner) break
      const card = await repo.card(event.subject)
      const reason = event.type === 'holo.card.hidden.v1' ? event.data.reason : undefined
      const automatic = event.type === 'holo.card.hidden.v1' && event.data.automatic === true
      await repo.lockInboxes([owner])
      await notify(owner, hidden ? 'card.hidden' : 'card.unhidden',
        hiddenText(hidden, cardName(card, owner), event.subject, reason, automatic))
      break
    }
    case 'holo.card.reports_resolved.v1': {
      // Reporters learn the outcome; the owner is told of a warning here (a hide tells them as card.hidden).
      const owner = event.data.ownerId
      const { action, note } = event.data
      const warned = action === 'warn' && event.actorid !== owner
      const reporters = event.data.reporterIds.filter((id) => id !== event.actorid)
      if (!warned && reporters.length === 0) break
      const card = await repo.card(event.subject)
      await repo.lockInboxes(warned ? [...reporters, owner] : reporters)
      if (warned) await notify(owner, 'card.warned', warnedText(cardName(card, owner), event.subject, note))
      for (const reporter of [...reporters].sort()) {
        await notify(reporter, 'report.resolved', reportResolvedText(cardName(card, reporter), event.subject, action))
      }
      break
    }
    case 'holo.card.liked.v1':
    case 'holo.card.unliked.v1': {
      const actorId = event.actorid
      if (actorId === undefined) {
        await repo.setCard(event.subject, event.data.ownerId, {}, seqOf(event))
        break
      }
      const liked = await repo.likedCard(event.subject, event.data.ownerId, seqOf(event), 'card.liked', actorId)
      if (actorId === event.data.ownerId) break
      await applyLike(event, actorId, liked, repo, log, s)
      break
    }
    case 'holo.template.created.v1':
      await repo.setTemplate(event.subject, event.data.name)
      break
    case 'holo.template.archived.v1': {
      const owners = await repo.cardsOfTemplate(event.subject)
      if (event.actorid !== undefined) owners.delete(event.actorid)
      if (owners.size === 0) break
      const name = await repo.templateName(event.subject)
      await repo.lockInboxes([...owners.keys()])
      for (const [owner, cardIds] of [...owners.entries()].sort(([a], [b]) => a < b ? -1 : 1)) {
        await notify(owner, 'template.archived', templateArchivedText(event.subject, name, cardIds))
      }
      break
    }
    case 'holo.collection.created.v1':
      await repo.setCollection(event.subject, event.data.ownerId, event.data.name, event.data.visibility)
      break
    case 'holo.collection.card_added.v1': {
      const collection = await repo.collection(event.subject)
      // Only a public collection: adding a card to a private or unlisted one tells its owner's secret.
      if (collection?.visibility !== 'public') break
      const card = await repo.card(event.data.cardId)
      const owner = card?.ownerId
      const actorId = event.actorid
      if (card === null || owner === undefined || owner === null || actorId === undefined || owner === actorId) break
      const actor = nameOf(await repo.user(actorId))
      await repo.lockInboxes([owner])
      await notify(owner, 'collection.card_added', cardAddedText(actorId, actor, cardName(card, owner),
        card.cardId, event.subject, collection.name))
      break
    }
  }
}

/**
 * Likes within the window of a card's first like collapse into one notification; each new liker, or a liker
 * taking their like back within the window, gives it a new id (and makes it unread); the last liker leaving
 * removes it.
 */
async function applyLike (
  event: HoloEvent<'holo.card.liked.v1' | 'holo.card.unliked.v1'>, actorId: string,
  liked: { card: CardEntry, channels: Channels, actor: UserEntry | null },
  repo: IngestRepository, log: EffectLog, s: RuleSettings
): Promise<void> {
  const { card, channels } = liked
  const owner = event.data.ownerId
  const cardId = event.subject
  const at = new Date(event.time)
  if (!channels.inApp && !channels.email) return
  const contentFor = (likers: Likers): NotificationContent => {
    const names = likers.ids.slice(0, 2).map((id) => nameOf(likers.known.find((u) => u.userId === id) ?? null))
    return likedText(names, likers.ids.length, cardName(card, owner), cardId, likers.ids.slice(0, 10))
  }
  // A like is mailed; a like taken back only corrects mail that has not gone yet.
  const mail = event.type === 'holo.card.liked.v1' ? 'always' : 'if-pending'
  // The card's row, upserted by likedCard, stays locked until the commit: the likes of one card (one owner's,
  // whichever instance applies them) change its like groups one transaction at a time.
  let group: LikeGroup
  let likers: Likers
  if (event.type === 'holo.card.liked.v1') {
    // A like that starts a group makes its notification in the same statement (written for its sole liker).
    const content = contentFor({ ids: [actorId], known: liked.actor === null ? [] : [liked.actor] })
    const first = channels.inApp ? { type: 'card.liked' as const, content } : undefined
    const found = await repo.likeGroupFor(owner, cardId, at, s.likeWindowSeconds, actorId, first)
    if (found.made) {
      await deliver(repo, log, s, owner, 'card.liked', content, null, mail, channels, found.group.id, found.inserted)
      return
    }
    group = found.group
    const listed = await repo.addLiker(group.id, actorId, at)
    if (listed === null) return
    likers = listed
  } else {
    const current = await repo.likeGroupAt(owner, cardId, at, s.likeWindowSeconds)
    if (current === null || !await repo.removeLiker(current.id, actorId)) return
    group = current
    const ids = await repo.likers(group.id)
    likers = { ids, known: await repo.users(ids.slice(0, 2)) }
  }
  // The owner's inbox head is locked where the new notification takes its id (deliver).
  if (likers.ids.length === 0) {
    await repo.deleteLikeGroup(group.id)
    if (group.notificationId !== null && (await repo.deleteNotification(group.notificationId)).deleted) {
      log.change(owner, [group.notificationId], [])
    }
    return
  }
  const item = await deliver(repo, log, s, owner, 'card.liked', contentFor(likers), group.notificationId, mail,
    channels, group.id)
  if (item === null) await repo.setGroupNotification(group.id, null)
}

/**
 * Makes a notification by the user's preferences: an inbox item (in place of `replaces` when given) and queued
 * mail. Returns the item, or null when in-app is off. `made`: the item was inserted already (null: in-app off).
 */
async function deliver (
  repo: IngestRepository, log: EffectLog, s: RuleSettings, userId: string, type: NotificationType,
  content: NotificationContent, replaces: string | null, mail: 'always' | 'if-pending' = 'always',
  known?: Channels, likeGroupId?: string, made?: Inserted | null
): Promise<NotificationItem | null> {
  const channels = known ?? await repo.channels(userId, type)
  let old = { deleted: false, mailPending: false }
  let inserted: Inserted | null
  if (made !== undefined) inserted = made
  else if (replaces !== null && channels.inApp && likeGroupId !== undefined) {
    // A like group's notification re-made: the old one goes in the same statement.
    const replaced = await repo.replaceNotification(replaces, userId, type, content, likeGroupId)
    old = { deleted: replaced.deleted, mailPending: replaced.mailPending }
    inserted = replaced.inserted
  } else {
    if (replaces !== null) old = await repo.deleteNotification(replaces)
    // A like group is linked to its new notification by the same statement.
    inserted = channels.inApp ? await repo.insertNotification(userId, type, content, likeGroupId) : null
  }
  const removed = old.deleted && replaces !== null ? [replaces] : []
  const item = inserted?.item ?? null
  if (removed.length > 0 || inserted !== null) log.change(userId, removed, inserted === null ? [] : [inserted])
  if (channels.email && (mail === 'always' || old.mailPending)) {
    const due = await repo.queueEmail(userId, type, item?.id ?? null, mailOf(content), s.gatherSeconds)
    if (due) log.mailDue = true
  }
  return item
}
