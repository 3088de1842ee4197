import { createHash, randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import { Counter, type Registry } from 'prom-client'
import { badRequest, revokedSessionKey, type AuthUser, type Role } from '@holo/shared'
import type { Config } from '../../config.js'
import type { SigningKeys } from '../../keys.js'
import type { Mailer } from '../../mailer.js'
import { passwordProblem, type PasswordHasher } from '../../passwords.js'
import {
  accountDisabled, emailTaken, fieldError, invalidCredentials, profileNotFound, refreshInvalid, refreshReused,
  sessionNotFound, tokenInvalid, userNotFound, usernameTaken
} from '../../errors.js'
import { UniqueViolation, type AccountsRepository, type AuditInput, type OneTimePurpose, type RefreshDecision, type UserRow } from './accounts.repository.js'
import { toProfile, toSession, toUser } from './accounts.mappers.js'
import type { LoginAttempt, LoginThrottle } from './accounts.throttle.js'
import type { AdminUpdateBody, AuthResult, Profile, RegisterBody, Session, UpdateMeBody, User, UserListQuery } from './accounts.schemas.js'

/** Who is asking, for the audit trail and new sessions. */
export interface RequestContext {
  ip: string | null
  userAgent: string | null
  requestId: string | null
  log: FastifyBaseLogger
}

export interface AccountsDeps {
  config: Config
  repo: AccountsRepository
  redis: Redis
  keys: SigningKeys
  hasher: PasswordHasher
  mailer: Mailer
  metrics: Registry
  throttle: LoginThrottle
}

const sha256 = (raw: string): string => createHash('sha256').update(raw).digest('hex')
const newOpaqueToken = (): string => randomBytes(32).toString('base64url')
export const normaliseEmail = (email: string): string => email.trim().toLowerCase()
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Account, session and password rules; knows nothing of HTTP. */
export class AccountsService {
  private readonly registrations: Counter
  private readonly logins: Counter<'result'>
  private readonly refreshes: Counter<'result'>
  private readonly background = new Set<Promise<void>>()

  constructor (private readonly d: AccountsDeps) {
    const registers = [d.metrics]
    this.registrations = new Counter({ name: 'auth_registrations_total', help: 'Accounts registered', registers })
    this.logins = new Counter({ name: 'auth_logins_total', help: 'Login attempts by result', labelNames: ['result'], registers })
    this.refreshes = new Counter({ name: 'auth_refreshes_total', help: 'Refresh attempts by result', labelNames: ['result'], registers })
  }

  private get repo (): AccountsRepository { return this.d.repo }

  /** Waits for work done after a response (password-reset mails). */
  async drain (): Promise<void> {
    await Promise.allSettled([...this.background])
    await this.d.mailer.drain()
  }

  private async audit (ctx: RequestContext, e: Omit<AuditInput, 'ip' | 'userAgent' | 'requestId'>): Promise<void> {
    await this.repo.audit({ ...e, ip: ctx.ip, userAgent: ctx.userAgent, requestId: ctx.requestId })
  }

  private checkPassword (field: string, password: string, who: { email?: string, username?: string }): void {
    const problem = passwordProblem(password, who)
    if (problem !== undefined) throw fieldError(field, problem, 'WEAK_PASSWORD')
  }

  private async startSession (user: UserRow, ctx: RequestContext): Promise<AuthResult> {
    const refreshToken = newOpaqueToken()
    const session = await this.repo.createSession({
      userId: user.id,
      ip: ctx.ip,
      userAgent: ctx.userAgent?.slice(0, 512) ?? null,
      expiresAt: new Date(Date.now() + this.d.config.REFRESH_TOKEN_TTL_SECONDS * 1000),
      refreshHash: sha256(refreshToken)
    })
    const access = this.d.keys.sign({ sub: user.id, sid: session.id, roles: user.roles as Role[] })
    return { user: toUser(user), accessToken: access.token, refreshToken, expiresIn: access.expiresIn }
  }

  /** Marks sessions revoked in Redis so every service refuses their access tokens at once. */
  private async announceRevoked (sessionIds: string[], log: FastifyBaseLogger): Promise<void> {
    if (sessionIds.length === 0) return
    const ttl = this.d.config.ACCESS_TOKEN_TTL_SECONDS + 60
    try {
      const multi = this.d.redis.multi()
      for (const id of sessionIds) multi.set(revokedSessionKey(id), '1', 'EX', ttl)
      await multi.exec()
    } catch (err) {
      // The database revocation stands; access tokens then live until they expire.
      log.error({ err, sessions: sessionIds.length }, 'could not announce revoked sessions in Redis')
    }
  }

  private async endSessions (where: { userId: string, id?: string, exceptId?: string }, reason: string, ctx: RequestContext): Promise<string[]> {
    const ids = await this.repo.revokeSessions(where, reason, new Date())
    await this.announceRevoked(ids, ctx.log)
    return ids
  }

  private async sendOneTimeToken (user: UserRow, purpose: OneTimePurpose, ctx: RequestContext): Promise<void> {
    const raw = newOpaqueToken()
    const ttl = purpose === 'password_reset' ? this.d.config.PASSWORD_RESET_TTL_SECONDS : this.d.config.EMAIL_VERIFICATION_TTL_SECONDS
    await this.repo.createOneTimeToken({ userId: user.id, purpose, tokenHash: sha256(raw), expiresAt: new Date(Date.now() + ttl * 1000) })
    const base = this.d.config.PUBLIC_URL.replace(/\/$/, '')
    const minutes = Math.round(ttl / 60)
    const mail = purpose === 'password_reset'
      ? {
          subject: 'Reset your Holo Cards password',
          text: `Someone asked to reset the password of your Holo Cards account.\n\nOpen this link within ${minutes} minutes to choose a new one:\n${base}/reset-password?token=${raw}\n\nToken: ${raw}\n\nIf it was not you, ignore this email.\n`
        }
      : {
          subject: 'Confirm your Holo Cards email',
          text: `Welcome to Holo Cards, ${user.username}!\n\nConfirm your email address with this link:\n${base}/verify-email?token=${raw}\n\nToken: ${raw}\n`
        }
    this.d.mailer.send({ to: user.email, ...mail }, ctx.log)
  }

  async register (body: RegisterBody, ctx: RequestContext): Promise<AuthResult> {
    const email = normaliseEmail(body.email)
    const username = body.username.toLowerCase()
    this.checkPassword('password', body.password, { email, username })
    let user: UserRow
    try {
      user = await this.repo.createUser({ email, username, passwordHash: await this.d.hasher.hash(body.password) })
    } catch (err) {
      if (err instanceof UniqueViolation) throw err.field === 'email' ? emailTaken() : usernameTaken()
      throw err
    }
    this.registrations.inc()
    await this.audit(ctx, { event: 'register', actorId: user.id, targetId: user.id })
    await this.sendOneTimeToken(user, 'email_verification', ctx)
    return await this.startSession(user, ctx)
  }

  async login (body: { email: string, password: string }, ctx: RequestContext): Promise<AuthResult> {
    const email = normaliseEmail(body.email)
    const attempt: LoginAttempt = { email, ip: ctx.ip, userAgent: ctx.userAgent, log: ctx.log }
    const delayedMs = await this.d.throttle.before(attempt)
    const slowed = delayedMs > 0 ? { delayedMs } : {}
    const user = await this.repo.findUserByEmail(email)
    if (user === undefined) {
      // Same work as a wrong password, so timing does not tell which accounts exist.
      await this.d.hasher.burn(body.password)
      this.logins.inc({ result: 'failed' })
      await this.d.throttle.failed(attempt)
      await this.audit(ctx, { event: 'login.failed', details: { reason: 'unknown_email', ...slowed } })
      throw invalidCredentials()
    }
    if (!await this.d.hasher.verify(user.passwordHash, body.password)) {
      this.logins.inc({ result: 'failed' })
      await this.d.throttle.failed(attempt)
      const details = { reason: 'wrong_password', ...slowed }
      await this.audit(ctx, { event: 'login.failed', targetId: user.id, details })
      throw invalidCredentials()
    }
    if (user.disabledAt !== null) {
      this.logins.inc({ result: 'disabled' })
      await this.audit(ctx, { event: 'login.failed', targetId: user.id, details: { reason: 'disabled', ...slowed } })
      throw accountDisabled()
    }
    this.logins.inc({ result: 'ok' })
    await this.d.throttle.succeeded(attempt)
    const okDetails = delayedMs > 0 ? { details: slowed } : {}
    await this.audit(ctx, { event: 'login.ok', actorId: user.id, targetId: user.id, ...okDetails })
    return await this.startSession(user, ctx)
  }

  /**
   * Rotates a refresh token. A token rotated more than the grace window ago
   * is theft: its whole session ends. Within the window the token answers
   * again and continues the chain, killing whichever token was live, so a
   * session never has two live refresh tokens.
   */
  async refresh (refreshToken: string, ctx: RequestContext): Promise<AuthResult> {
    const now = new Date()
    const next = newOpaqueToken()
    const graceMs = this.d.config.REFRESH_REUSE_GRACE_SECONDS * 1000
    const outcome = await this.repo.refresh(sha256(refreshToken), (s): RefreshDecision => {
      if (s.session.revokedAt !== null || s.session.expiresAt <= now || s.expiresAt <= now || s.user.disabledAt !== null) return { kind: 'reject' }
      if (s.rotatedAt !== null && now.getTime() - s.rotatedAt.getTime() > graceMs) return { kind: 'revoke-session', reason: 'refresh_token_reuse' }
      return { kind: 'rotate', newHash: sha256(next), expiresAt: new Date(now.getTime() + this.d.config.REFRESH_TOKEN_TTL_SECONDS * 1000) }
    }, now)
    if (outcome === undefined || outcome.decision.kind === 'reject') {
      this.refreshes.inc({ result: 'invalid' })
      throw refreshInvalid()
    }
    const { state, decision } = outcome
    if (decision.kind === 'revoke-session') {
      this.refreshes.inc({ result: 'reuse' })
      await this.announceRevoked([state.sessionId], ctx.log)
      await this.audit(ctx, { event: 'refresh.reuse_detected', targetId: state.user.id, details: { sessionId: state.sessionId } })
      ctx.log.warn({ sessionId: state.sessionId }, 'refresh token reuse: session revoked')
      throw refreshReused()
    }
    this.refreshes.inc({ result: state.rotatedAt === null ? 'ok' : 'grace' })
    const access = this.d.keys.sign({ sub: state.user.id, sid: state.sessionId, roles: state.user.roles as Role[] })
    return { user: toUser(state.user), accessToken: access.token, refreshToken: next, expiresIn: access.expiresIn }
  }

  async logout (refreshToken: string, ctx: RequestContext): Promise<void> {
    const session = await this.repo.findSessionByRefreshHash(sha256(refreshToken))
    if (session === undefined || session.revokedAt !== null) return
    await this.endSessions({ userId: session.userId, id: session.id }, 'logout', ctx)
    await this.audit(ctx, { event: 'logout', actorId: session.userId, targetId: session.userId, details: { sessionId: session.id } })
  }

  async logoutAll (caller: AuthUser, ctx: RequestContext): Promise<void> {
    const ids = await this.endSessions({ userId: caller.id }, 'logout_all', ctx)
    await this.audit(ctx, { event: 'logout.all', actorId: caller.id, targetId: caller.id, details: { sessions: ids.length } })
  }

  private async activeUser (id: string): Promise<UserRow> {
    const user = await this.repo.findUserById(id)
    if (user === undefined) throw userNotFound()
    if (user.disabledAt !== null) throw accountDisabled()
    return user
  }

  async me (caller: AuthUser): Promise<User> {
    return toUser(await this.activeUser(caller.id))
  }

  async updateMe (caller: AuthUser, body: UpdateMeBody): Promise<User> {
    await this.activeUser(caller.id)
    try {
      const user = await this.repo.updateUser(caller.id, { ...body, ...(body.username !== undefined ? { username: body.username.toLowerCase() } : {}) })
      if (user === undefined) throw userNotFound()
      return toUser(user)
    } catch (err) {
      if (err instanceof UniqueViolation) throw usernameTaken()
      throw err
    }
  }

  async changePassword (caller: AuthUser, body: { currentPassword: string, newPassword: string }, ctx: RequestContext): Promise<void> {
    const user = await this.activeUser(caller.id)
    if (!await this.d.hasher.verify(user.passwordHash, body.currentPassword)) {
      await this.audit(ctx, { event: 'password.change_failed', actorId: user.id, targetId: user.id })
      throw fieldError('currentPassword', 'is incorrect', 'CURRENT_PASSWORD_INCORRECT')
    }
    this.checkPassword('newPassword', body.newPassword, user)
    // A reset link still in a mailbox would undo the change: it dies with the old password.
    await this.repo.setPassword(user.id, await this.d.hasher.hash(body.newPassword), { voidTokens: ['password_reset'] })
    await this.endSessions({ userId: user.id, exceptId: caller.sessionId }, 'password_change', ctx)
    await this.audit(ctx, { event: 'password.change', actorId: user.id, targetId: user.id })
  }

  /** Always succeeds; the lookup and the mail happen after the response, so neither body nor timing tells whether the account exists. */
  requestPasswordReset (email: string, ctx: RequestContext): void {
    const task = (async () => {
      const user = await this.repo.findUserByEmail(normaliseEmail(email))
      await this.audit(ctx, { event: 'password.reset_requested', targetId: user?.id ?? null })
      if (user === undefined || user.disabledAt !== null) return
      await this.sendOneTimeToken(user, 'password_reset', ctx)
    })().catch((err: unknown) => { ctx.log.error({ err }, 'password reset request failed') })
      .finally(() => this.background.delete(task))
    this.background.add(task)
  }

  async confirmPasswordReset (body: { token: string, password: string }, ctx: RequestContext): Promise<void> {
    // The policy is checked before the token is spent, so a refused password does not burn it.
    this.checkPassword('password', body.password, {})
    // Spending one reset token voids its siblings in the same transaction, so two links never both work.
    const purpose = 'password_reset'
    const userId = await this.repo.consumeOneTimeToken(sha256(body.token), purpose, new Date(), [purpose])
    if (userId === undefined) throw tokenInvalid()
    const user = await this.activeUser(userId)
    // The reset proved the mailbox: the email counts as verified and pending verification links are moot.
    await this.repo.setPassword(user.id, await this.d.hasher.hash(body.password), {
      verifyEmail: true,
      voidTokens: ['password_reset', 'email_verification']
    })
    await this.endSessions({ userId: user.id }, 'password_reset', ctx)
    await this.audit(ctx, { event: 'password.reset', actorId: user.id, targetId: user.id })
  }

  async verifyEmail (token: string, ctx: RequestContext): Promise<void> {
    const purpose = 'email_verification'
    const userId = await this.repo.consumeOneTimeToken(sha256(token), purpose, new Date(), [purpose])
    if (userId === undefined) throw tokenInvalid()
    await this.repo.updateUser(userId, { emailVerifiedAt: new Date() })
    await this.audit(ctx, { event: 'email.verified', actorId: userId, targetId: userId })
  }

  async sessions (caller: AuthUser): Promise<Session[]> {
    return (await this.repo.liveSessions(caller.id, new Date())).map((s) => toSession(s, caller.sessionId))
  }

  async endSession (caller: AuthUser, sessionId: string, ctx: RequestContext): Promise<void> {
    const ended = await this.endSessions({ userId: caller.id, id: sessionId }, 'logout', ctx)
    if (ended.length === 0) throw sessionNotFound()
    await this.audit(ctx, { event: 'logout', actorId: caller.id, targetId: caller.id, details: { sessionId } })
  }

  async listUsers (q: UserListQuery): Promise<{ items: User[], nextCursor: string | null }> {
    let afterId: string | undefined
    if (q.cursor !== undefined) {
      afterId = Buffer.from(q.cursor, 'base64url').toString()
      if (!UUID.test(afterId)) throw badRequest('cursor is not a cursor from a previous page', 'VALIDATION_FAILED', { errors: [{ field: 'cursor', in: 'querystring', message: 'is invalid' }] })
    }
    const rows = await this.repo.listUsers({ q: q.q, role: q.role, limit: q.limit + 1, afterId })
    const page = rows.slice(0, q.limit)
    const last = page.at(-1)
    return { items: page.map(toUser), nextCursor: rows.length > q.limit && last !== undefined ? Buffer.from(last.id).toString('base64url') : null }
  }

  async getUser (id: string): Promise<User> {
    const user = await this.repo.findUserById(id)
    if (user === undefined) throw userNotFound()
    return toUser(user)
  }

  async adminUpdate (caller: AuthUser, id: string, body: AdminUpdateBody, ctx: RequestContext): Promise<User> {
    const before = await this.repo.findUserById(id)
    if (before === undefined) throw userNotFound()
    const roles = body.roles === undefined ? undefined : [...new Set<Role>(['user', ...body.roles])]
    if (id === caller.id && (body.disabled === true || (roles !== undefined && !roles.includes('admin')))) {
      throw badRequest('Admins cannot disable themselves or drop their own admin role', 'SELF_LOCKOUT')
    }
    const disabledAt = body.disabled === undefined ? undefined : body.disabled ? (before.disabledAt ?? new Date()) : null
    const user = await this.repo.updateUser(id, { ...(roles !== undefined ? { roles } : {}), ...(disabledAt !== undefined ? { disabledAt } : {}) })
    if (user === undefined) throw userNotFound()
    if (roles !== undefined && roles.join() !== before.roles.join()) {
      await this.audit(ctx, { event: 'role.change', actorId: caller.id, targetId: id, details: { from: before.roles, to: roles } })
    }
    if (body.disabled === true && before.disabledAt === null) {
      // Reset links sent before the disable must not take the account over once it is enabled again.
      await this.repo.voidOneTimeTokens(id, ['password_reset'])
      await this.endSessions({ userId: id }, 'disabled', ctx)
      await this.audit(ctx, { event: 'user.disable', actorId: caller.id, targetId: id })
    } else if (body.disabled === false && before.disabledAt !== null) {
      await this.audit(ctx, { event: 'user.enable', actorId: caller.id, targetId: id })
    }
    return toUser(user)
  }

  async profile (id: string): Promise<Profile> {
    const [user] = await this.repo.findActiveUsers([id])
    if (user === undefined) throw profileNotFound()
    return toProfile(user)
  }

  async profiles (ids: string[]): Promise<Profile[]> {
    const rows = await this.repo.findActiveUsers([...new Set(ids.map((i) => i.toLowerCase()))])
    const byId = new Map(rows.map((r) => [r.id, r]))
    return ids.flatMap((i) => { const r = byId.get(i.toLowerCase()); return r === undefined ? [] : [toProfile(r)] })
      .filter((p, i, all) => all.findIndex((q) => q.id === p.id) === i)
  }

  /** Creates or promotes the first admin; safe to run at every start, from several instances. */
  async bootstrapAdmin (emailIn: string, password: string, ctx: RequestContext): Promise<void> {
    const email = normaliseEmail(emailIn)
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await this.repo.findUserByEmail(email)
      if (existing !== undefined) {
        if (existing.roles.includes('admin')) return
        await this.repo.updateUser(existing.id, { roles: [...new Set([...existing.roles, 'user', 'admin'])] })
        await this.audit(ctx, { event: 'role.change', targetId: existing.id, details: { from: existing.roles, to: 'admin', by: 'bootstrap' } })
        return
      }
      const base = (email.split('@')[0] ?? 'admin').replace(/[^a-z0-9_]/g, '_').slice(0, 24).padEnd(3, '_')
      const username = attempt === 0 ? base : `${base}_${randomBytes(3).toString('hex')}`
      try {
        const user = await this.repo.createUser({ email, username, passwordHash: await this.d.hasher.hash(password), roles: ['user', 'admin'], emailVerifiedAt: new Date() })
        await this.audit(ctx, { event: 'register', targetId: user.id, details: { by: 'bootstrap', roles: user.roles } })
        return
      } catch (err) {
        if (!(err instanceof UniqueViolation)) throw err
      }
    }
  }
}
