// The notification types: the `type` of an inbox item and the keys of the preferences.

export const NOTIFICATION_TYPES = [
  'welcome',
  'card.liked',
  'collection.card_added',
  'card.hidden',
  'card.unhidden',
  'card.warned',
  'report.resolved',
  'template.archived',
  'security.new_login',
  'security.password_changed',
  'security.password_reset',
  'security.email_verified',
  'security.session_revoked',
  'security.roles_changed'
] as const

export type NotificationType = typeof NOTIFICATION_TYPES[number]

export const isSecurityType = (type: string): boolean => type.startsWith('security.')

export interface Channels { inApp: boolean, email: boolean }

/** Email on for security types and what moderators did to your cards, off for the rest; in-app on for all. */
export const defaultChannels = (type: NotificationType): Channels =>
  ({ inApp: true, email: isSecurityType(type) || type === 'card.hidden' || type === 'card.warned' })

/** What a notification item carries besides its type (title and body are ready to show, in English). */
export interface NotificationContent {
  title: string
  body: string
  data: Record<string, unknown>
}

/** A notification as the API, the live messages and since() give it. */
export interface NotificationItem {
  id: string
  type: NotificationType
  title: string
  body: string
  data: Record<string, unknown>
  createdAt: string
  readAt: string | null
}
