// What the auth service tells the rest of the system (docs/events.md has the catalogue).
// Each is made in the service layer, from what the change wrote, and written in its transaction.
import type { HoloEvent } from '@holo/events'
import { event } from '@holo/shared'
import type { SessionRow, UserRow } from './accounts.repository.js'

type Account = Pick<UserRow, 'id' | 'email' | 'username'>

export const userRegistered = (u: Account): HoloEvent<'holo.user.registered.v1'> =>
  event('holo.user.registered.v1', { subject: u.id, actorId: u.id, data: { email: u.email, username: u.username } })

export const emailVerified = (u: Account): HoloEvent<'holo.user.email_verified.v1'> =>
  event('holo.user.email_verified.v1', { subject: u.id, actorId: u.id, data: { email: u.email } })

export const loggedIn = (s: SessionRow, newDevice: boolean): HoloEvent<'holo.user.logged_in.v1'> =>
  event('holo.user.logged_in.v1', {
    subject: s.userId,
    actorId: s.userId,
    data: { sessionId: s.id, ip: s.ip ?? 'unknown', userAgent: s.userAgent, newDevice }
  })

export const passwordChanged = (userId: string): HoloEvent<'holo.user.password_changed.v1'> =>
  event('holo.user.password_changed.v1', { subject: userId, actorId: userId, data: {} })

export const passwordReset = (userId: string): HoloEvent<'holo.user.password_reset.v1'> =>
  event('holo.user.password_reset.v1', { subject: userId, actorId: userId, data: {} })

/** What an administrator changed on an account: roles, and disabling or enabling it. */
export function adminChanges (before: UserRow, after: UserRow, adminId: string): HoloEvent[] {
  const events: HoloEvent[] = []
  if (after.roles.join() !== before.roles.join()) {
    events.push(event('holo.user.roles_changed.v1', {
      subject: after.id, actorId: adminId, data: { roles: after.roles, previousRoles: before.roles }
    }))
  }
  if (after.disabledAt !== null && before.disabledAt === null) {
    events.push(event('holo.user.disabled.v1', { subject: after.id, actorId: adminId, data: {} }))
  } else if (after.disabledAt === null && before.disabledAt !== null) {
    events.push(event('holo.user.enabled.v1', { subject: after.id, actorId: adminId, data: {} }))
  }
  return events
}

/** The bootstrap admin setting promoted an existing account at start: nobody did it. */
export const promotedAtStart = (before: UserRow, after: UserRow): HoloEvent[] => [
  event('holo.user.roles_changed.v1', { subject: after.id, data: { roles: after.roles, previousRoles: before.roles } })
]

const PROFILE_FIELDS = ['username', 'displayName', 'bio', 'avatarFileId'] as const

/** The profile fields that differ, and the event naming them (none when nothing changed). */
export function profileUpdated (before: UserRow, after: UserRow): HoloEvent[] {
  const changed = PROFILE_FIELDS.filter((f) => before[f] !== after[f])
  if (changed.length === 0) return []
  return [event('holo.user.profile_updated.v1', {
    subject: after.id,
    actorId: after.id,
    data: {
      changed: [...changed],
      ...(changed.includes('avatarFileId') ? { avatarFileId: after.avatarFileId } : {}),
      ...(changed.includes('username') ? { username: after.username } : {}),
      ...(changed.includes('displayName') ? { displayName: after.displayName } : {})
    }
  })]
}

/** `actorId`: the user signing out or the administrator; null when the system ended them. */
export const sessionsRevoked = (userId: string, reason: string, actorId: string | null) =>
  (ids: readonly string[]): Array<HoloEvent<'holo.session.revoked.v1'>> =>
    ids.map((id) => event('holo.session.revoked.v1', { subject: id, actorId, data: { userId, reason } }))
