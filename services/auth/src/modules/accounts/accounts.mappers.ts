import type { SessionRow, UserRow } from './accounts.repository.js'
import type { Profile, Session, User } from './accounts.schemas.js'

export const toUser = (u: UserRow): User => ({
  id: u.id,
  email: u.email,
  username: u.username,
  displayName: u.displayName,
  bio: u.bio,
  avatarFileId: u.avatarFileId,
  roles: u.roles,
  emailVerified: u.emailVerifiedAt !== null,
  disabled: u.disabledAt !== null,
  createdAt: u.createdAt.toISOString()
})

export const toProfile = (u: UserRow): Profile => ({
  id: u.id,
  username: u.username,
  displayName: u.displayName,
  bio: u.bio,
  avatarFileId: u.avatarFileId
})

export const toSession = (s: SessionRow, currentSessionId: string): Session => ({
  id: s.id,
  createdAt: s.createdAt.toISOString(),
  lastUsedAt: s.lastUsedAt.toISOString(),
  userAgent: s.userAgent,
  ip: s.ip,
  provider: s.provider,
  current: s.id === currentSessionId
})
