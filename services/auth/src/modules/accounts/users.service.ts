import { randomBytes } from 'node:crypto'
import {
  type AuthUser, can, commonErrors, decodeIdCursor, encodeCursor, type FileReferenceCheck, LOCKOUT_PERMISSION,
  type OnBehalfOf, page, PERMISSION_NAMES, type Permission
} from '@holo/shared'
import { errors } from '../../errors.js'
import { normaliseEmail, type AccountsCore, type RequestContext } from './accounts.core.js'
import { UniqueViolation, UnknownRoles } from './accounts.repository.js'
import { adminChanges, profileUpdated, promotedAtStart, userRegistered } from './accounts.events.js'
import { toProfile, toUser } from './accounts.mappers.js'
import type {
  AdminUpdateBody, Me, Profile, Session, UpdateMeBody, User, UserListQuery, UserPage
} from './accounts.schemas.js'

/** The admin user listing's cursors: the last id of a page (ids are UUIDv7, so roughly by creation). */
const USERS_CURSOR = 'users'

/** The caller's own account, admin account management, public profiles and the first admin. */
export class UsersService {
  constructor (private readonly core: AccountsCore, private readonly checkFile: FileReferenceCheck) {}

  private get repo (): AccountsCore['repo'] { return this.core.repo }

  /** The account, with what the caller's token may do now (its roles' permissions, as every service applies them). */
  async me (caller: AuthUser): Promise<Me> {
    const user = toUser(await this.core.activeUser(caller.id))
    return { ...user, permissions: PERMISSION_NAMES.filter((p) => caller.permissions.has(p)) }
  }

  /** A new avatarFileId must name a file the caller may use (the file service says); it is checked before any write. */
  async updateMe (caller: AuthUser, body: UpdateMeBody, onBehalf: OnBehalfOf): Promise<User> {
    const current = await this.core.activeUser(caller.id)
    const avatar = body.avatarFileId
    // null takes the avatar off; the id the profile already shows is no new reference.
    if (typeof avatar === 'string' && avatar.toLowerCase() !== current.avatarFileId) {
      const ref = await this.checkFile(avatar, onBehalf)
      if (ref !== 'ok') throw errors.FILE_REFERENCE_INVALID(ref === 'foreign')
    }
    const changes = body.username === undefined ? body : { ...body, username: body.username.toLowerCase() }
    try {
      const user = await this.repo.updateUser(caller.id, changes, profileUpdated)
      if (user === null) throw errors.USER_NOT_FOUND()
      return toUser(user)
    } catch (err) {
      if (err instanceof UniqueViolation) throw errors.USERNAME_TAKEN()
      throw err
    }
  }

  async list (q: UserListQuery): Promise<UserPage> {
    if (q.role !== undefined && (await this.repo.missingRoles([q.role])).length > 0) {
      throw errors.UNKNOWN_ROLES('role', 'querystring', [q.role])
    }
    const afterId = q.cursor === undefined ? undefined : decodeIdCursor(q.cursor, USERS_CURSOR)
    const rows = await this.repo.listUsers({ q: q.q, role: q.role, limit: q.limit + 1, afterId })
    const { items, nextCursor } = page(rows, q.limit, toUser, (r) => encodeCursor(USERS_CURSOR, [r.id]))
    return { items, nextCursor }
  }

  async get (id: string): Promise<User> {
    const user = await this.repo.findUserById(id)
    if (user === null) throw errors.USER_NOT_FOUND()
    return toUser(user)
  }

  /**
   * Roles (users.roles; each must exist) and the disabled flag (users.disable). Disabling ends every session
   * and voids pending reset links.
   */
  async update (caller: AuthUser, id: string, body: AdminUpdateBody, ctx: RequestContext): Promise<User> {
    if (body.roles !== undefined) this.need(caller, 'users.roles')
    if (body.disabled !== undefined) this.need(caller, 'users.disable')
    const before = await this.repo.findUserById(id)
    if (before === null) throw errors.USER_NOT_FOUND()
    const roles = body.roles === undefined ? undefined : [...new Set(['user', ...body.roles])]
    if (id === caller.id && (body.disabled === true ||
      (roles !== undefined && !await this.repo.rolesGrant(roles, LOCKOUT_PERMISSION)))) {
      throw errors.SELF_LOCKOUT()
    }
    const disabledAt = body.disabled === undefined
      ? undefined
      : body.disabled ? (before.disabledAt ?? new Date()) : null
    const user = await this.repo.updateUser(id, {
      ...(roles !== undefined ? { roles } : {}),
      ...(disabledAt !== undefined ? { disabledAt } : {})
    }, (locked, after) => adminChanges(locked, after, caller.id)).catch((err: unknown) => {
      if (err instanceof UnknownRoles) throw errors.UNKNOWN_ROLES('roles', 'body', err.names)
      throw err
    })
    if (user === null) throw errors.USER_NOT_FOUND()
    if (roles !== undefined && roles.join() !== before.roles.join()) {
      const details = { from: before.roles, to: roles }
      await this.core.audit(ctx, { event: 'role.change', actorId: caller.id, targetId: id, details })
    }
    if (body.disabled === true && before.disabledAt === null) {
      // Reset links sent before the disable must not take the account over once it is enabled again.
      await this.repo.voidOneTimeTokens(id, ['password_reset'])
      await this.core.endSessions({ userId: id }, 'disabled', caller.id, ctx)
      await this.core.audit(ctx, { event: 'user.disable', actorId: caller.id, targetId: id })
    } else if (body.disabled === false && before.disabledAt !== null) {
      await this.core.audit(ctx, { event: 'user.enable', actorId: caller.id, targetId: id })
    }
    return toUser(user)
  }

  /** The live sessions of an account (users.read), as its owner's own list shows them; 404 for no such user. */
  async sessions (caller: AuthUser, id: string): Promise<Session[]> {
    await this.get(id)
    return await this.core.liveSessions(id, caller.sessionId)
  }

  /**
   * Ends one live session of an account (`sessionId`) or all of them (users.disable): each is refused by every
   * service at once (the revocation key), published as session.revoked with the administrator as actor, and
   * audited. 404 for no such user, or a session that is not a live one of this user.
   */
  async revokeSessions (caller: AuthUser, id: string, sessionId: string | undefined, ctx: RequestContext): Promise<void> {
    this.need(caller, 'users.disable')
    await this.get(id)
    const where = sessionId === undefined ? { userId: id } : { userId: id, id: sessionId }
    const ended = await this.core.endSessions(where, 'admin_revoke', caller.id, ctx)
    if (sessionId !== undefined && ended.length === 0) throw errors.SESSION_NOT_FOUND()
    const details = sessionId === undefined ? { sessions: ended.length } : { sessionId }
    const event = sessionId === undefined ? 'session.revoke_all' : 'session.revoke'
    await this.core.audit(ctx, { event, actorId: caller.id, targetId: id, details })
  }

  private need (caller: AuthUser, permission: Permission): void {
    if (!can(caller, permission)) throw commonErrors.FORBIDDEN(`This needs the permission ${permission}`)
  }

  async profile (id: string): Promise<Profile> {
    const [user] = await this.repo.findActiveUsers([id])
    if (user === undefined) throw errors.PROFILE_NOT_FOUND()
    return toProfile(user)
  }

  /** The profiles of enabled accounts among `ids`, in the order asked, each once. */
  async profiles (ids: string[]): Promise<Profile[]> {
    const rows = await this.repo.findActiveUsers([...new Set(ids.map((i) => i.toLowerCase()))])
    const byId = new Map(rows.map((r) => [r.id, r]))
    const found = ids.flatMap((i) => {
      const row = byId.get(i.toLowerCase())
      return row === undefined ? [] : [toProfile(row)]
    })
    return found.filter((p, i, all) => all.findIndex((q) => q.id === p.id) === i)
  }

  /** Creates or promotes the first admin; safe to run at every start, from several instances. */
  async bootstrapAdmin (emailIn: string, password: string, ctx: RequestContext): Promise<void> {
    const email = normaliseEmail(emailIn)
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await this.repo.findUserByEmail(email)
      if (existing !== null) {
        if (existing.roles.includes('admin')) return
        await this.repo.updateUser(existing.id, { roles: [...new Set([...existing.roles, 'user', 'admin'])] },
          promotedAtStart)
        const details = { from: existing.roles, to: 'admin', by: 'bootstrap' }
        await this.core.audit(ctx, { event: 'role.change', targetId: existing.id, details })
        return
      }
      const base = (email.split('@')[0] ?? 'admin').replace(/[^a-z0-9_]/g, '_').slice(0, 24).padEnd(3, '_')
      const username = attempt === 0 ? base : `${base}_${randomBytes(3).toString('hex')}`
      try {
        const passwordHash = await this.core.hasher.hash(password)
        const roles = ['user', 'admin']
        const user = await this.repo.createUser(
          { email, username, passwordHash, roles, emailVerifiedAt: new Date() }, (u) => [userRegistered(u)])
        const details = { by: 'bootstrap', roles: user.roles }
        await this.core.audit(ctx, { event: 'register', targetId: user.id, details })
        return
      } catch (err) {
        if (!(err instanceof UniqueViolation)) throw err
      }
    }
  }
}
