// What each notification says, in English, ready to show; and its mail. Card names follow one rule: a private
// card is named only to its owner (report.resolved goes to reporters, who may no longer see the card).
import type { CardEntry, Mail, UserEntry } from './ingest.repository.js'
import type { NotificationContent } from '../notifications/notifications.types.js'

/** How a user is named to others: display name, else username, else "Someone". */
export const nameOf = (user: UserEntry | null): string =>
  user?.displayName ?? user?.username ?? 'Someone'

/** How a card is named to `recipientId`: its title, unless it is private and not theirs, or unknown. */
export function cardName (card: CardEntry | null, recipientId: string): string | null {
  if (card === null || card.title === null) return null
  if (card.visibility === 'private' && card.ownerId !== recipientId) return null
  return card.title
}

const quoted = (name: string | null, fallback: string): string => name === null ? fallback : `“${name}”`

export function likedText (
  likerNames: string[], count: number, card: string | null, cardId: string, actorIds: string[]
): NotificationContent {
  const first = likerNames[0] ?? 'Someone'
  const who = count <= 1 ? first
    : count === 2 ? `${first} and ${likerNames[1] ?? 'someone'}`
      : `${first} and ${count - 1} others`
  const what = card ?? 'your card'
  return {
    title: `${who} liked ${what}`,
    body: count <= 1 ? `${first} liked ${quoted(card, 'your card')}.`
      : `${quoted(card, 'Your card')} got ${count} new likes.`,
    data: { cardId, actorIds, count }
  }
}

export function cardAddedText (
  actorId: string, actor: string, card: string | null, cardId: string, collectionId: string,
  collection: string | null
): NotificationContent {
  const where = collection === null ? 'their collection' : `their collection “${collection}”`
  return {
    title: `${actor} added ${card ?? 'your card'} to a collection`,
    body: `${actor} added ${quoted(card, 'your card')} to ${where}.`,
    data: { cardId, collectionId, actorIds: [actorId] }
  }
}

export function hiddenText (
  hidden: boolean, card: string | null, cardId: string, reason?: string, automatic = false
): NotificationContent {
  const what = quoted(card, 'One of your cards')
  if (!hidden) {
    return {
      title: `${card ?? 'Your card'} is visible again`,
      body: `${what} was reviewed by a moderator and is visible again.`,
      data: { cardId }
    }
  }
  if (automatic) {
    return {
      title: `${card ?? 'Your card'} is hidden pending review`,
      body: `${what} was reported by several users and is hidden until a moderator reviews it; only you can ` +
        'see it meanwhile.',
      data: { cardId, automatic }
    }
  }
  return {
    title: `${card ?? 'Your card'} was hidden by a moderator`,
    body: `${what} was hidden by a moderator and only you can see it now.` +
      (reason !== undefined && reason !== '' ? ` Reason: ${reason}` : ''),
    data: reason === undefined ? { cardId } : { cardId, reason }
  }
}

export function warnedText (card: string | null, cardId: string, note?: string): NotificationContent {
  return {
    title: `You got a warning about ${card ?? 'your card'}`,
    body: `A moderator reviewed reports about ${quoted(card, 'one of your cards')} and warns you: please follow ` +
      'the community rules, or your cards may be hidden.' + (note !== undefined && note !== '' ? ` Note: ${note}` : ''),
    data: note === undefined ? { cardId } : { cardId, note }
  }
}

const OUTCOMES = {
  hide: 'the card was hidden',
  dismiss: 'no rule was broken, so the card stays',
  warn: 'its owner was warned'
} as const

/** To a reporter: what became of their report (the moderator's note is for the owner and the log). */
export function reportResolvedText (
  card: string | null, cardId: string, action: keyof typeof OUTCOMES
): NotificationContent {
  return {
    title: 'Your report was resolved',
    body: `A moderator reviewed your report about ${quoted(card, 'a card')}: ${OUTCOMES[action]}. Thank you.`,
    data: { cardId, action }
  }
}

export function templateArchivedText (
  templateId: string, template: string | null, cardIds: string[]
): NotificationContent {
  const n = cardIds.length
  return {
    title: `The template ${template ?? 'of your card'} was archived`,
    body: `${quoted(template, 'A template')} was archived. ` +
      `${n === 1 ? 'Your card made from it keeps its' : `Your ${n} cards made from it keep their`} design, ` +
      'but no new cards can use it.',
    data: { templateId, cardIds, count: n }
  }
}

export function welcomeText (username: string): NotificationContent {
  return {
    title: `Welcome to Holo Cards, ${username}!`,
    body: 'Create your first card, pick a template and share it with the community.',
    data: {}
  }
}

export const SECURITY_TEXTS = {
  'security.new_login': (ip: string, userAgent: string | null): NotificationContent => ({
    title: 'New sign-in to your account',
    body: `Your account was signed in to from a new device (${userAgent ?? 'unknown browser'}, ${ip}). ` +
      'If this was not you, change your password now.',
    data: { ip, userAgent }
  }),
  'security.password_changed': (revokedSessions?: number): NotificationContent => ({
    title: 'Your password was changed',
    body: 'The password of your account was changed' + signedOut(revokedSessions) +
      ' If this was not you, reset your password now.',
    data: revokedSessions === undefined ? {} : { revokedSessions }
  }),
  'security.password_reset': (revokedSessions?: number): NotificationContent => ({
    title: 'Your password was reset',
    body: 'The password of your account was reset with a link sent to your email address' +
      signedOut(revokedSessions) + ' If this was not you, contact support.',
    data: revokedSessions === undefined ? {} : { revokedSessions }
  }),
  'security.email_verified': (email: string): NotificationContent => ({
    title: 'Your email address is verified',
    body: `${email} is now the verified address of your account.`,
    data: { email }
  }),
  'security.session_revoked': (sessionId: string, reason: string, actorId: string): NotificationContent => ({
    title: 'A session of your account was ended',
    body: `An administrator signed one of your sessions out (${reason}).`,
    data: { sessionId, reason, actorIds: [actorId] }
  }),
  'security.roles_changed': (roles: string[], previousRoles: string[], actorId?: string): NotificationContent => ({
    title: 'Your roles changed',
    body: `Your roles are now ${list(roles)} (before: ${list(previousRoles)}).`,
    data: actorId === undefined ? { roles, previousRoles } : { roles, previousRoles, actorIds: [actorId] }
  })
}

const list = (roles: string[]): string => roles.length === 0 ? 'none' : roles.join(', ')
const signedOut = (n?: number): string =>
  n === undefined || n === 0 ? '.' : `, and ${n} other session${n === 1 ? ' was' : 's were'} signed out.`

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) =>
  ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c)

/** The mail of one notification (the email job adds the footer, and gathers several into one). */
export const mailOf = (content: NotificationContent): Mail => ({
  subject: content.title,
  text: `${content.title}\n\n${content.body}`,
  html: `<p><strong>${escapeHtml(content.title)}</strong></p><p>${escapeHtml(content.body)}</p>`
})
