import t from 'tap'
import type { TestMail } from '@holo/infra/testing'
import { bearer, buildTestApp, newAccount, register, waitForMail, type AuthTokens } from './helper.js'

const ADMIN = {
  BOOTSTRAP_ADMIN_EMAIL: 'flows-admin@example.test',
  BOOTSTRAP_ADMIN_PASSWORD: 'bootstrap admin passphrase'
}
const RESET = /Reset your Holo Cards password/

/** The tokens of the first `count` reset mails to `address`, oldest first (bounded polling). */
async function resetTokens (mail: TestMail, address: string, count: number): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const found = (await mail.messagesTo(address)).filter((m) => RESET.test(m.subject))
    if (found.length >= count) return found.reverse().map((m) => /^Token: (\S+)$/m.exec(m.text)?.[1] ?? '')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`fewer than ${count} reset mails to ${address}`)
}

t.test('email verification, password change and reset (real SMTP catcher)', async (t) => {
  const { app, deps, mail } = await buildTestApp(t, ADMIN, { withMail: true })
  if (mail === undefined) throw new Error('mail catcher missing')
  const login = async (email: string, password: string) =>
    await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } })
  const askReset = async (email: string) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/auth/password-reset', payload: { email } })
    if (res.statusCode !== 202) throw new Error(`password-reset answered ${res.statusCode}`)
    await app.accounts.drain()
  }
  const confirm = async (token: string, password: string) =>
    await app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/confirm', payload: { token, password } })
  const verify = async (token: string) =>
    await app.inject({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token } })

  t.test('registration sends a verification email whose token verifies once', async (t) => {
    const { body, tokens } = await register(app)
    const message = await waitForMail(mail, body.email, /Confirm your Holo Cards email/)
    t.match(message.text, `http://holo.test/verify-email?token=${message.token}`, 'link built from PUBLIC_URL')
    t.match(message.token, /^[A-Za-z0-9_-]{43}$/)
    const stored = await deps.prisma.oneTimeToken.findFirstOrThrow({ where: { userId: tokens.user.id } })
    t.not(stored.tokenHash, message.token, 'stored hashed')
    const ok = await app.inject({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token: message.token } })
    t.equal(ok.statusCode, 204)
    const me = await app.inject({ url: '/api/v1/auth/me', headers: bearer(tokens.accessToken) })
    t.equal(me.json().emailVerified, true)
    const again = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/verify-email',
      payload: { token: message.token }
    })
    t.equal(again.statusCode, 400)
    t.equal(again.json().code, 'TOKEN_INVALID')
    t.equal(again.json().errors[0].field, 'token')
  })

  t.test('changing the password ends every other session', async (t) => {
    const { body, tokens } = await register(app)
    const other = (await login(body.email, body.password)).json() as AuthTokens
    const wrong = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password',
      headers: bearer(tokens.accessToken),
      payload: { currentPassword: 'not my password', newPassword: 'a brand new passphrase' }
    })
    t.equal(wrong.statusCode, 400)
    t.equal(wrong.json().errors[0].field, 'currentPassword')
    const weak = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password',
      headers: bearer(tokens.accessToken),
      payload: { currentPassword: body.password, newPassword: '1234567890' }
    })
    t.equal(weak.statusCode, 400)
    t.equal(weak.json().errors[0].field, 'newPassword')
    const anonymous = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password',
      payload: { currentPassword: body.password, newPassword: 'a brand new passphrase' }
    })
    t.equal(anonymous.statusCode, 401)
    const ok = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password',
      headers: bearer(tokens.accessToken),
      payload: { currentPassword: body.password, newPassword: 'a brand new passphrase' }
    })
    t.equal(ok.statusCode, 204, ok.body)
    t.equal((await app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refreshToken: other.refreshToken }
    })).statusCode, 401, 'the other session is over')
    t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(other.accessToken) })).statusCode, 401)
    t.equal((await app.inject({
      url: '/api/v1/auth/me',
      headers: bearer(tokens.accessToken)
    })).statusCode, 200, 'the current session goes on')
    t.equal((await login(body.email, body.password)).statusCode, 401, 'old password refused')
    t.equal((await login(body.email, 'a brand new passphrase')).statusCode, 200)
    t.ok(await deps.prisma.auditEvent.findFirst({ where: { event: 'password.change', targetId: tokens.user.id } }))
  })

  t.test('password reset: 202 for anyone, single-use token, every session ends', async (t) => {
    const { body, tokens } = await register(app)
    const unknownEmail = newAccount('ghost').email
    const forUnknown = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset',
      payload: { email: unknownEmail }
    })
    const forKnown = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset',
      payload: { email: body.email.toUpperCase() }
    })
    t.equal(forUnknown.statusCode, 202)
    t.equal(forKnown.statusCode, 202)
    t.same(forUnknown.json(), forKnown.json(), 'same body either way')
    const message = await waitForMail(mail, body.email, /Reset your Holo Cards password/)
    t.match(message.text, `http://holo.test/reset-password?token=${message.token}`)
    t.match(message.text, /30 minutes/)
    await app.accounts.drain()
    t.same(await mail.messagesTo(unknownEmail), [], 'nothing is sent for an unknown account')
    const row = await deps.prisma.oneTimeToken.findFirstOrThrow({
      where: { userId: tokens.user.id, purpose: 'password_reset' }
    })
    const minutes = (row.expiresAt.getTime() - row.createdAt.getTime()) / 60_000
    t.equal(Math.round(minutes), 30, 'valid 30 minutes')

    const weak = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/confirm',
      payload: { token: message.token, password: 'password123' }
    })
    t.equal(weak.statusCode, 400)
    t.equal(weak.json().errors[0].field, 'password', 'a refused password does not spend the token')
    const ok = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/confirm',
      payload: { token: message.token, password: 'reset to this passphrase' }
    })
    t.equal(ok.statusCode, 204, ok.body)
    t.equal((await app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refreshToken: tokens.refreshToken }
    })).statusCode, 401, 'sessions ended')
    t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(tokens.accessToken) })).statusCode, 401)
    t.equal((await login(body.email, body.password)).statusCode, 401)
    t.equal((await login(body.email, 'reset to this passphrase')).statusCode, 200)
    const reused = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/confirm',
      payload: { token: message.token, password: 'yet another passphrase' }
    })
    t.equal(reused.statusCode, 400, 'used token')
    t.equal(reused.json().code, 'TOKEN_INVALID')
    const unknown = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/confirm',
      payload: { token: 'u'.repeat(43), password: 'yet another passphrase' }
    })
    t.equal(unknown.statusCode, 400, 'unknown token')
    t.ok(await deps.prisma.auditEvent.findFirst({ where: { event: 'password.reset', targetId: tokens.user.id } }))
  })

  t.test('an expired reset token is refused', async (t) => {
    const { body, tokens } = await register(app)
    await app.inject({ method: 'POST', url: '/api/v1/auth/password-reset', payload: { email: body.email } })
    const message = await waitForMail(mail, body.email, /Reset your Holo Cards password/)
    await deps.prisma.oneTimeToken.updateMany({
      where: { userId: tokens.user.id, purpose: 'password_reset' },
      data: { expiresAt: new Date(Date.now() - 1000) }
    })
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/confirm',
      payload: { token: message.token, password: 'reset to this passphrase' }
    })
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'TOKEN_INVALID')
  })

  t.test('a reset voids every other outstanding reset token, and verification tokens', async (t) => {
    const { body, tokens } = await register(app)
    const verification = await waitForMail(mail, body.email, /Confirm your Holo Cards email/)
    await askReset(body.email)
    await askReset(body.email)
    const [first, second] = await resetTokens(mail, body.email, 2)
    if (first === undefined || second === undefined) throw new Error('two reset tokens expected')
    t.not(first, second)
    t.equal((await confirm(second, 'the second reset passphrase')).statusCode, 204)
    const stale = await confirm(first, 'the first reset passphrase')
    t.equal(stale.statusCode, 400, 'the older token no longer resets the password')
    t.equal(stale.json().code, 'TOKEN_INVALID')
    t.equal((await login(body.email, 'the first reset passphrase')).statusCode, 401)
    t.equal((await login(body.email, 'the second reset passphrase')).statusCode, 200)
    t.equal((await verify(verification.token)).statusCode, 400, 'the reset verified the email; the old link is void')
    const live = await deps.prisma.oneTimeToken.count({ where: { userId: tokens.user.id, usedAt: null } })
    t.equal(live, 0, 'no outstanding token is left')
  })

  t.test('changing the password voids outstanding reset tokens', async (t) => {
    const { body, tokens } = await register(app)
    await askReset(body.email)
    const [token] = await resetTokens(mail, body.email, 1)
    const changed = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password',
      headers: bearer(tokens.accessToken),
      payload: { currentPassword: body.password, newPassword: 'changed while a reset was pending' }
    })
    t.equal(changed.statusCode, 204, changed.body)
    const res = await confirm(token ?? '', 'reset after the change')
    t.equal(res.statusCode, 400, 'a reset link from before the change is dead')
    t.equal(res.json().code, 'TOKEN_INVALID')
    t.equal((await login(body.email, 'changed while a reset was pending')).statusCode, 200)
  })

  t.test('a disabled account\'s pending tokens neither revive it nor let anyone in', async (t) => {
    const admin = (await login(ADMIN.BOOTSTRAP_ADMIN_EMAIL, ADMIN.BOOTSTRAP_ADMIN_PASSWORD)).json() as AuthTokens
    const setDisabled = async (id: string, disabled: boolean) => {
      const res = await app.inject({
        method: 'PATCH',
        url: `/api/v1/auth/users/${id}`,
        headers: bearer(admin.accessToken),
        payload: { disabled }
      })
      t.equal(res.statusCode, 200, res.body)
    }
    const { body, tokens } = await register(app)
    const verification = await waitForMail(mail, body.email, /Confirm your Holo Cards email/)
    await askReset(body.email)
    const [reset] = await resetTokens(mail, body.email, 1)
    await setDisabled(tokens.user.id, true)

    const refused = await confirm(reset ?? '', 'a takeover passphrase')
    t.equal(refused.statusCode, 400, 'the reset token died with the disable')
    t.equal((await verify(verification.token)).statusCode, 400, 'no verification while disabled')
    const row = await deps.prisma.user.findUniqueOrThrow({ where: { id: tokens.user.id } })
    t.not(row.disabledAt, null, 'still disabled')
    t.equal(row.emailVerifiedAt, null)
    t.equal(await deps.prisma.session.count({ where: { userId: tokens.user.id, revokedAt: null } }), 0, 'no session')
    t.equal((await login(body.email, 'a takeover passphrase')).statusCode, 401, 'the password did not change')
    t.equal((await login(body.email, body.password)).statusCode, 403)

    await setDisabled(tokens.user.id, false)
    t.equal((await confirm(reset ?? '', 'a takeover passphrase')).statusCode, 400, 'still void after re-enabling')
    t.equal((await login(body.email, body.password)).statusCode, 200)
  })

  t.test('a token issued before a disable that bypassed the service still cannot be used', async (t) => {
    const { body, tokens } = await register(app)
    await askReset(body.email)
    const [reset] = await resetTokens(mail, body.email, 1)
    // Disabled straight in the database (as by a concurrent admin), so the token row is still outstanding.
    await deps.prisma.user.update({ where: { id: tokens.user.id }, data: { disabledAt: new Date() } })
    const res = await confirm(reset ?? '', 'a takeover passphrase')
    t.ok([400, 403].includes(res.statusCode), `refused (${res.statusCode})`)
    const row = await deps.prisma.user.findUniqueOrThrow({ where: { id: tokens.user.id } })
    t.not(row.disabledAt, null, 'still disabled')
    const live = await deps.prisma.session.count({ where: { userId: tokens.user.id, revokedAt: null } })
    t.equal(live, 1, 'only the registration session')
    await deps.prisma.user.update({ where: { id: tokens.user.id }, data: { disabledAt: null } })
    t.equal((await login(body.email, body.password)).statusCode, 200, 'the password did not change')
  })
})
