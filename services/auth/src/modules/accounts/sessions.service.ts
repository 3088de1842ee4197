import { timingSafeEqual } from 'node:crypto'
import type { AuthUser, Role } from '@holo/shared'
import { errors } from '../../errors.js'
import type { SigningKeys } from '../../keys.js'
import type { AuthMetrics } from '../../metrics.js'
import { newOpaqueToken, normaliseEmail, sha256, type AccountsCore, type RequestContext } from './accounts.core.js'
import { UniqueViolation, type RefreshDecision, type RefreshState, type UserRow } from './accounts.repository.js'
import { loggedIn, sessionsRevoked, userRegistered } from './accounts.events.js'
import { toUser } from './accounts.mappers.js'
import type { LoginAttempt, LoginThrottle } from './accounts.throttle.js'
import type { LoginBody, RegisterBody, Session, SignInMode, User } from './accounts.schemas.js'

/** A login from a user agent and network not seen for the account in this many days is from a new device. */
const NEW_DEVICE_DAYS = 90

/** A refresh token as a request presents it: in the JSON body (apps) or in the refresh cookie (browsers). */
export interface PresentedToken { token: string, from: 'body' | 'cookie' }

/** What a sign-in or a refresh issues; the route puts the refresh token in the answer or in the cookie (`mode`). */
export interface IssuedTokens {
  user: User
  accessToken: string
  expiresIn: number
  refreshToken: string
  mode: SignInMode
  /** Cookie mode, when the session starts: its CSRF token (the session keeps only its SHA-256). */
  csrfToken?: string
}

/**
 * May this request use the session's refresh token? A cookie-mode session (it has a CSRF hash) needs its CSRF
 * token however the refresh token came; a JSON-mode session's refresh token never comes from the cookie.
 */
function csrfAllows (csrfHash: string | null, presented: PresentedToken, csrfToken: string | undefined): boolean {
  if (csrfHash === null) return presented.from === 'body'
  if (csrfToken === undefined) return false
  const given = Buffer.from(sha256(csrfToken), 'hex')
  const kept = Buffer.from(csrfHash, 'hex')
  return given.length === kept.length && timingSafeEqual(given, kept)
}

/** The cookie alone never refreshes or ends a session: without the header there is nothing to look up. */
const csrfHeaderMissing = (presented: PresentedToken, csrfToken: string | undefined): boolean =>
  presented.from === 'cookie' && csrfToken === undefined

const modeOf = (csrfHash: string | null): SignInMode => csrfHash === null ? 'json' : 'cookie'

/** Registration, login, refresh-token rotation, logout and the caller's sessions; knows nothing of HTTP. */
export class SessionsService {
  constructor (
    private readonly core: AccountsCore,
    private readonly keys: SigningKeys,
    private readonly throttle: LoginThrottle,
    private readonly metrics: AuthMetrics
  ) {}

  private get repo (): AccountsCore['repo'] { return this.core.repo }

  /** An access token for the session, with the roles the user has now. */
  private accessFor (user: UserRow, sessionId: string): { token: string, expiresIn: number } {
    return this.keys.sign({ sub: user.id, sid: sessionId, roles: user.roles as Role[] })
  }

  /**
   * Opens a session; a login (not a registration) publishes user.logged_in, saying whether the device is new.
   * A cookie-mode session gets a CSRF token, answered now and kept only as its SHA-256.
   */
  private async startSession (
    user: UserRow,
    ctx: RequestContext,
    o: { login?: boolean, provider?: string, mode?: SignInMode | undefined } = {}
  ): Promise<IssuedTokens> {
    const { login = false, provider = 'password', mode = 'json' } = o
    const refreshToken = newOpaqueToken()
    const csrfToken = mode === 'cookie' ? newOpaqueToken() : undefined
    const userAgent = ctx.userAgent?.slice(0, 512) ?? null
    const since = new Date(Date.now() - NEW_DEVICE_DAYS * 86_400_000)
    const newDevice = login && !await this.repo.knownDevice(user.id, userAgent, ctx.ip, since)
    const session = await this.repo.createSession({
      userId: user.id,
      ip: ctx.ip,
      userAgent,
      expiresAt: new Date(Date.now() + this.core.config.REFRESH_TOKEN_TTL_SECONDS * 1000),
      refreshHash: sha256(refreshToken),
      csrfHash: csrfToken === undefined ? null : sha256(csrfToken),
      provider
    }, (s) => login ? [loggedIn(s, newDevice)] : [])
    const access = this.accessFor(user, session.id)
    const issued = { user: toUser(user), accessToken: access.token, refreshToken, expiresIn: access.expiresIn, mode }
    return csrfToken === undefined ? issued : { ...issued, csrfToken }
  }

  async register (body: RegisterBody, ctx: RequestContext): Promise<IssuedTokens> {
    const email = normaliseEmail(body.email)
    const username = body.username.toLowerCase()
    this.core.checkPassword('password', body.password, { email, username })
    let user: UserRow
    try {
      const passwordHash = await this.core.hasher.hash(body.password)
      user = await this.repo.createUser({ email, username, passwordHash }, (u) => [userRegistered(u)])
    } catch (err) {
      if (err instanceof UniqueViolation) throw err.field === 'email' ? errors.EMAIL_TAKEN() : errors.USERNAME_TAKEN()
      throw err
    }
    this.metrics.registered()
    await this.core.audit(ctx, { event: 'register', actorId: user.id, targetId: user.id })
    await this.core.sendOneTimeToken(user, 'email_verification', ctx)
    return await this.startSession(user, ctx, { mode: body.mode })
  }

  async login (body: LoginBody, ctx: RequestContext): Promise<IssuedTokens> {
    const email = normaliseEmail(body.email)
    const attempt: LoginAttempt = { email, ip: ctx.ip, userAgent: ctx.userAgent, log: ctx.log }
    const delayedMs = await this.throttle.before(attempt)
    const slowed = delayedMs > 0 ? { delayedMs } : {}
    const user = await this.repo.findUserByEmail(email)
    if (user === null) {
      // Same work as a wrong password, so timing does not tell which accounts exist.
      await this.core.hasher.burn(body.password)
      this.metrics.login('failed')
      await this.throttle.failed(attempt)
      await this.core.audit(ctx, { event: 'login.failed', details: { reason: 'unknown_email', ...slowed } })
      throw errors.INVALID_CREDENTIALS()
    }
    // An account made by a sign-in provider has no password until its owner sets one (reset flow): the same
    // work and the same 401 as a wrong password.
    const matches = user.passwordHash === null
      ? await this.core.hasher.burn(body.password).then(() => false)
      : await this.core.hasher.verify(user.passwordHash, body.password)
    if (!matches) {
      this.metrics.login('failed')
      await this.throttle.failed(attempt)
      const details = { reason: user.passwordHash === null ? 'no_password' : 'wrong_password', ...slowed }
      await this.core.audit(ctx, { event: 'login.failed', targetId: user.id, details })
      throw errors.INVALID_CREDENTIALS()
    }
    if (user.disabledAt !== null) {
      this.metrics.login('disabled')
      const details = { reason: 'disabled', ...slowed }
      await this.core.audit(ctx, { event: 'login.failed', targetId: user.id, details })
      throw errors.ACCOUNT_DISABLED()
    }
    this.metrics.login('ok')
    await this.throttle.succeeded(attempt)
    const okDetails = delayedMs > 0 ? { details: slowed } : {}
    await this.core.audit(ctx, { event: 'login.ok', actorId: user.id, targetId: user.id, ...okDetails })
    return await this.startSession(user, ctx, { login: true, mode: body.mode })
  }

  /** A sign-in by a provider (the Holo code exchanged): the same session, tokens and login event as a login. */
  async signInWith (
    user: UserRow,
    provider: string,
    ctx: RequestContext,
    mode?: SignInMode
  ): Promise<IssuedTokens> {
    if (user.disabledAt !== null) {
      this.metrics.login('disabled')
      await this.core.audit(ctx, { event: 'login.failed', targetId: user.id, details: { reason: 'disabled', provider } })
      throw errors.ACCOUNT_DISABLED()
    }
    this.metrics.login('ok')
    await this.core.audit(ctx, { event: 'login.ok', actorId: user.id, targetId: user.id, details: { provider } })
    return await this.startSession(user, ctx, { login: true, provider, mode })
  }

  /**
   * Rotates a refresh token. A token rotated more than the grace window ago
   * is theft: its whole session ends. Within the window the token answers
   * again and continues the chain, killing whichever token was live, so a
   * session never has two live refresh tokens. A cookie-mode session's token
   * is refused (403, nothing changed) without its CSRF token; its CSRF token
   * stays the same for the life of the session.
   */
  async refresh (presented: PresentedToken, csrfToken: string | undefined, ctx: RequestContext): Promise<IssuedTokens> {
    if (csrfHeaderMissing(presented, csrfToken)) {
      this.metrics.refresh('csrf')
      throw errors.CSRF_TOKEN_INVALID()
    }
    const now = new Date()
    const next = newOpaqueToken()
    const { REFRESH_REUSE_GRACE_SECONDS, REFRESH_TOKEN_TTL_SECONDS } = this.core.config
    const decide = (s: RefreshState): RefreshDecision => {
      // First: without the CSRF token a request learns nothing of the session and changes nothing.
      if (!csrfAllows(s.session.csrfHash, presented, csrfToken)) return { kind: 'reject', why: 'csrf' }
      const over = s.session.revokedAt !== null || s.session.expiresAt <= now || s.expiresAt <= now
      if (over || s.user.disabledAt !== null) return { kind: 'reject', why: 'invalid' }
      if (s.rotatedAt !== null && now.getTime() - s.rotatedAt.getTime() > REFRESH_REUSE_GRACE_SECONDS * 1000) {
        return { kind: 'revoke-session', reason: 'refresh_token_reuse' }
      }
      const expiresAt = new Date(now.getTime() + REFRESH_TOKEN_TTL_SECONDS * 1000)
      return { kind: 'rotate', newHash: sha256(next), expiresAt }
    }
    const outcome = await this.repo.refresh(sha256(presented.token), decide, now,
      (s) => sessionsRevoked(s.user.id, 'refresh_token_reuse', null)([s.sessionId]))
    if (outcome?.decision.kind === 'reject' && outcome.decision.why === 'csrf') {
      this.metrics.refresh('csrf')
      ctx.log.warn({ sessionId: outcome.state.sessionId }, 'refresh refused: CSRF token missing or wrong')
      throw errors.CSRF_TOKEN_INVALID()
    }
    if (outcome === null || outcome.decision.kind === 'reject') {
      this.metrics.refresh('invalid')
      throw errors.REFRESH_TOKEN_INVALID()
    }
    const { state, decision } = outcome
    if (decision.kind === 'revoke-session') {
      this.metrics.refresh('reuse')
      await this.core.announceRevoked([state.sessionId], ctx.log)
      const details = { sessionId: state.sessionId }
      await this.core.audit(ctx, { event: 'refresh.reuse_detected', targetId: state.user.id, details })
      ctx.log.warn({ sessionId: state.sessionId }, 'refresh token reuse: session revoked')
      throw errors.REFRESH_TOKEN_REUSED()
    }
    this.metrics.refresh(state.rotatedAt === null ? 'ok' : 'grace')
    const access = this.accessFor(state.user, state.sessionId)
    return {
      user: toUser(state.user),
      accessToken: access.token,
      refreshToken: next,
      expiresIn: access.expiresIn,
      mode: modeOf(state.session.csrfHash)
    }
  }

  /**
   * Ends the session of a refresh token (an unknown or ended one: nothing to do) and says its mode, so that
   * the route clears the cookie of a cookie-mode session. Its CSRF rule is refresh's.
   */
  async logout (presented: PresentedToken, csrfToken: string | undefined, ctx: RequestContext): Promise<SignInMode> {
    if (csrfHeaderMissing(presented, csrfToken)) throw errors.CSRF_TOKEN_INVALID()
    const session = await this.repo.findSessionByRefreshHash(sha256(presented.token))
    if (session === null) return presented.from === 'cookie' ? 'cookie' : 'json'
    if (!csrfAllows(session.csrfHash, presented, csrfToken)) {
      ctx.log.warn({ sessionId: session.id }, 'logout refused: CSRF token missing or wrong')
      throw errors.CSRF_TOKEN_INVALID()
    }
    if (session.revokedAt !== null) return modeOf(session.csrfHash)
    await this.core.endSessions({ userId: session.userId, id: session.id }, 'logout', session.userId, ctx)
    const details = { sessionId: session.id }
    await this.core.audit(ctx, { event: 'logout', actorId: session.userId, targetId: session.userId, details })
    return modeOf(session.csrfHash)
  }

  async logoutAll (caller: AuthUser, ctx: RequestContext): Promise<void> {
    const ids = await this.core.endSessions({ userId: caller.id }, 'logout_all', caller.id, ctx)
    const details = { sessions: ids.length }
    await this.core.audit(ctx, { event: 'logout.all', actorId: caller.id, targetId: caller.id, details })
  }

  /** The caller's live sessions, most recently used first. */
  async list (caller: AuthUser): Promise<Session[]> {
    return await this.core.liveSessions(caller.id, caller.sessionId)
  }

  /** Ends one of the caller's own sessions; another user's is a 404 like a missing one. */
  async end (caller: AuthUser, sessionId: string, ctx: RequestContext): Promise<void> {
    const ended = await this.core.endSessions({ userId: caller.id, id: sessionId }, 'logout', caller.id, ctx)
    if (ended.length === 0) throw errors.SESSION_NOT_FOUND()
    await this.core.audit(ctx, { event: 'logout', actorId: caller.id, targetId: caller.id, details: { sessionId } })
  }
}
