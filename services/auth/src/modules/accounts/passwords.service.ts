import type { AuthUser } from '@holo/shared'
import { errors } from '../../errors.js'
import { normaliseEmail, sha256, type AccountsCore, type RequestContext } from './accounts.core.js'
import { emailVerified, passwordChanged, passwordReset } from './accounts.events.js'
import type { ChangePasswordBody, ResetConfirmBody } from './accounts.schemas.js'

/** Password change, password reset and email verification; knows nothing of HTTP. */
export class PasswordsService {
  constructor (private readonly core: AccountsCore) {}

  private get repo (): AccountsCore['repo'] { return this.core.repo }

  async change (caller: AuthUser, body: ChangePasswordBody, ctx: RequestContext): Promise<void> {
    const user = await this.core.activeUser(caller.id)
    // A social-only account sets its first password through the reset flow, which proves the mailbox.
    if (user.passwordHash === null) throw errors.PASSWORD_NOT_SET()
    if (!await this.core.hasher.verify(user.passwordHash, body.currentPassword)) {
      await this.core.audit(ctx, { event: 'password.change_failed', actorId: user.id, targetId: user.id })
      throw errors.CURRENT_PASSWORD_INCORRECT()
    }
    this.core.checkPassword('newPassword', body.newPassword, user)
    // A reset link still in a mailbox would undo the change: it dies with the old password.
    const passwordHash = await this.core.hasher.hash(body.newPassword)
    await this.repo.setPassword(user.id, passwordHash, {
      voidTokens: ['password_reset'],
      eventsOf: () => [passwordChanged(user.id)]
    })
    await this.core.endSessions({ userId: user.id, exceptId: caller.sessionId }, 'password_change', user.id, ctx)
    await this.core.audit(ctx, { event: 'password.change', actorId: user.id, targetId: user.id })
  }

  /**
   * Always succeeds; the lookup and the mail happen after the response, so
   * neither body nor timing tells whether the account exists.
   */
  requestReset (email: string, ctx: RequestContext): void {
    this.core.afterResponse(async () => {
      const user = await this.repo.findUserByEmail(normaliseEmail(email))
      await this.core.audit(ctx, { event: 'password.reset_requested', targetId: user?.id ?? null })
      if (user === null || user.disabledAt !== null) return
      await this.core.sendOneTimeToken(user, 'password_reset', ctx)
    }, 'password reset request failed', ctx.log)
  }

  async confirmReset (body: ResetConfirmBody, ctx: RequestContext): Promise<void> {
    // The policy is checked before the token is spent, so a refused password does not burn it.
    this.core.checkPassword('password', body.password, {})
    // Spending one reset token voids its siblings in the same transaction, so two links never both work.
    const purpose = 'password_reset'
    const userId = await this.repo.consumeOneTimeToken(sha256(body.token), purpose, new Date(), [purpose])
    if (userId === null) throw errors.TOKEN_INVALID()
    const user = await this.core.activeUser(userId)
    // The reset proved the mailbox: the email counts as verified and pending verification links are moot.
    await this.repo.setPassword(user.id, await this.core.hasher.hash(body.password), {
      verifyEmail: true,
      voidTokens: ['password_reset', 'email_verification'],
      eventsOf: ({ emailVerified: verified }) => [passwordReset(user.id), ...(verified ? [emailVerified(user)] : [])]
    })
    await this.core.endSessions({ userId: user.id }, 'password_reset', user.id, ctx)
    await this.core.audit(ctx, { event: 'password.reset', actorId: user.id, targetId: user.id })
  }

  async verifyEmail (token: string, ctx: RequestContext): Promise<void> {
    const purpose = 'email_verification'
    const userId = await this.repo.consumeOneTimeToken(sha256(token), purpose, new Date(), [purpose])
    if (userId === null) throw errors.TOKEN_INVALID()
    await this.repo.updateUser(userId, { emailVerifiedAt: new Date() },
      (before, user) => before.emailVerifiedAt === null ? [emailVerified(user)] : [])
    await this.core.audit(ctx, { event: 'email.verified', actorId: userId, targetId: userId })
  }
}
