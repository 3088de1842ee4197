import { createHash, randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import { revokedSessionKey } from '@holo/shared'
import type { Config } from '../../config.js'
import { errors } from '../../errors.js'
import type { Mailer } from '../../mailer.js'
import { passwordProblem, type PasswordHasher } from '../../passwords.js'
import { sessionsRevoked } from './accounts.events.js'
import { toSession } from './accounts.mappers.js'
import type { Session } from './accounts.schemas.js'
import type {
  AccountsRepository, AuditInput, OneTimePurpose, SessionSelection, UserRow
} from './accounts.repository.js'

/** Who is asking, for the audit trail and new sessions. */
export interface RequestContext {
  ip: string | null
  userAgent: string | null
  requestId: string | null
  log: FastifyBaseLogger
}

export type AuditEvent = Omit<AuditInput, 'ip' | 'userAgent' | 'requestId'>

export interface AccountsCoreDeps {
  config: Config
  repo: AccountsRepository
  redis: Redis
  hasher: PasswordHasher
  mailer: Mailer
}

export const sha256 = (raw: string): string => createHash('sha256').update(raw).digest('hex')
/** 256 random bits, base64url: refresh, reset and verification tokens (stored only as SHA-256). */
export const newOpaqueToken = (): string => randomBytes(32).toString('base64url')
export const normaliseEmail = (email: string): string => email.trim().toLowerCase()

/**
 * What the account services share: the repository, the password hasher, the
 * audit trail, ending sessions everywhere, one-time-token mail, and work done
 * after a response.
 */
export class AccountsCore {
  private readonly background = new Set<Promise<void>>()

  constructor (private readonly d: AccountsCoreDeps) {}

  get repo (): AccountsRepository { return this.d.repo }
  get hasher (): PasswordHasher { return this.d.hasher }
  get config (): Config { return this.d.config }

  async audit (ctx: RequestContext, e: AuditEvent): Promise<void> {
    await this.repo.audit({ ...e, ip: ctx.ip, userAgent: ctx.userAgent, requestId: ctx.requestId })
  }

  /** A 400 naming `field` unless the password passes the policy. */
  checkPassword (field: string, password: string, who: { email?: string, username?: string }): void {
    const problem = passwordProblem(password, who)
    if (problem !== undefined) throw errors.WEAK_PASSWORD(field, problem)
  }

  /** The account of `id` when it exists and is enabled; 404 or 403 otherwise. */
  async activeUser (id: string): Promise<UserRow> {
    const user = await this.repo.findUserById(id)
    if (user === null) throw errors.USER_NOT_FOUND()
    if (user.disabledAt !== null) throw errors.ACCOUNT_DISABLED()
    return user
  }

  /**
   * Ends sessions in the database (publishing a session.revoked for each) and announces them;
   * returns the ids ended now. `actorId`: who ended them, null when the system did.
   */
  async endSessions (
    where: SessionSelection,
    reason: string,
    actorId: string | null,
    ctx: RequestContext
  ): Promise<string[]> {
    const ids = await this.repo.revokeSessions(where, reason, new Date(), sessionsRevoked(where.userId, reason, actorId))
    await this.announceRevoked(ids, ctx.log)
    return ids
  }

  /** A user's live sessions, most recently used first; `current` marks the caller's own (`currentSessionId`). */
  async liveSessions (userId: string, currentSessionId: string): Promise<Session[]> {
    return (await this.repo.liveSessions(userId, new Date())).map((s) => toSession(s, currentSessionId))
  }

  /** Marks sessions revoked in Redis so every service refuses their access tokens at once. */
  async announceRevoked (sessionIds: string[], log: FastifyBaseLogger): Promise<void> {
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

  /** Stores a new single-use token for `purpose` (hashed) and mails it in the background. */
  async sendOneTimeToken (user: UserRow, purpose: OneTimePurpose, ctx: RequestContext): Promise<void> {
    const raw = newOpaqueToken()
    const { config } = this.d
    const reset = purpose === 'password_reset'
    const ttl = reset ? config.PASSWORD_RESET_TTL_SECONDS : config.EMAIL_VERIFICATION_TTL_SECONDS
    const expiresAt = new Date(Date.now() + ttl * 1000)
    await this.repo.createOneTimeToken({ userId: user.id, purpose, tokenHash: sha256(raw), expiresAt })
    const base = config.PUBLIC_URL.replace(/\/$/, '')
    const mail = reset ? resetMail(base, raw, Math.round(ttl / 60)) : verificationMail(base, raw, user.username)
    this.d.mailer.send({ to: user.email, ...mail }, ctx.log)
  }

  /** Runs `task` after the response; a failure is logged as `what`. */
  afterResponse (task: () => Promise<void>, what: string, log: FastifyBaseLogger): void {
    const run: Promise<void> = task()
      .catch((err: unknown) => { log.error({ err }, what) })
      .finally(() => this.background.delete(run))
    this.background.add(run)
  }

  /** Waits for work done after a response and for the mail it sent. */
  async drain (): Promise<void> {
    await Promise.allSettled([...this.background])
    await this.d.mailer.drain()
  }
}

function resetMail (base: string, token: string, minutes: number): { subject: string, text: string } {
  return {
    subject: 'Reset your Holo Cards password',
    text: 'Someone asked to reset the password of your Holo Cards account.\n\n' +
      `Open this link within ${minutes} minutes to choose a new one:\n${base}/reset-password?token=${token}\n\n` +
      `Token: ${token}\n\nIf it was not you, ignore this email.\n`
  }
}

function verificationMail (base: string, token: string, username: string): { subject: string, text: string } {
  return {
    subject: 'Confirm your Holo Cards email',
    text: `Welcome to Holo Cards, ${username}!\n\n` +
      `Confirm your email address with this link:\n${base}/verify-email?token=${token}\n\nToken: ${token}\n`
  }
}
