// What the auth service publishes: each change writes its events in its own
// transaction (the outbox), the relay moves them to the auth stream, and a
// refused request publishes nothing.
import t from 'tap'
import { eventually, outboxEvents, streamedEvents, type PublishedEvent } from '@holo/infra/testing'
import { bearer, buildTestApp, newAccount, register, waitForMail, type AuthTokens } from './helper.js'

const ADMIN = {
  BOOTSTRAP_ADMIN_EMAIL: 'events-admin@example.test',
  BOOTSTRAP_ADMIN_PASSWORD: 'events admin passphrase',
  REFRESH_REUSE_GRACE_SECONDS: '0'
}
const PHONE = 'HoloPhone/1.0'
const LAPTOP = 'HoloLaptop/2.0'

t.test('auth events', async (t) => {
  const { app, config, mail } = await buildTestApp(t, ADMIN, { withMail: true })
  const about = async (userId: string): Promise<PublishedEvent[]> => (await outboxEvents(config.DATABASE_URL, 'auth'))
    .filter((e) => e.subject === userId || e.data.userId === userId)
  const types = async (userId: string): Promise<string[]> => (await about(userId)).map((e) => e.type)
  const login = async (email: string, password: string, ua: string, ip = '198.51.100.7') => await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email, password },
    headers: { 'user-agent': ua, 'x-forwarded-for': ip }
  })

  const account = newAccount('ev')
  const reg = await register(app, account, { 'x-forwarded-for': '203.0.113.7' })
  t.equal(reg.res.statusCode, 201)
  const userId = reg.tokens.user.id
  const [registered] = await about(userId)
  t.match(registered, {
    type: 'holo.user.registered.v1',
    source: 'holo-auth',
    subject: userId,
    actorid: userId,
    requestid: reg.res.headers['x-request-id'],
    clientip: '203.0.113.7',
    data: { email: account.email, username: account.username }
  }, 'registration: who, from where, in which request')
  t.equal((await register(app, { ...newAccount('ev'), email: account.email })).res.statusCode, 409)
  t.equal((await outboxEvents(config.DATABASE_URL, 'auth', ['holo.user.registered.v1']))
    .filter((e) => e.data.email === account.email).length, 1, 'a refused registration publishes nothing')

  t.test('logins say whether the device is new; failures and refreshes publish nothing', async (t) => {
    const first = await login(account.email, account.password, PHONE)
    t.equal(first.statusCode, 200)
    t.equal((await login(account.email, 'not the password at all', PHONE)).statusCode, 401)
    await login(account.email, account.password, PHONE, '198.51.100.200')
    await login(account.email, account.password, LAPTOP)
    await login(account.email, account.password, PHONE, '192.0.2.1')
    const refreshed = await app.inject({
      method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: (first.json() as AuthTokens).refreshToken }
    })
    t.equal(refreshed.statusCode, 200)
    const logins = (await about(userId)).filter((e) => e.type === 'holo.user.logged_in.v1')
    t.same(logins.map((e) => [e.data.ip, e.data.userAgent, e.data.newDevice]), [
      ['198.51.100.7', PHONE, true],
      ['198.51.100.200', PHONE, false],
      ['198.51.100.7', LAPTOP, true],
      ['192.0.2.1', PHONE, true]
    ], 'the same user agent in the same /24 is a known device; another agent or network is new')
    t.ok(logins.every((e) => e.actorid === userId && typeof e.data.sessionId === 'string'))
  })

  t.test('sessions ended by their user, and by the system on refresh-token reuse', async (t) => {
    const a = (await login(account.email, account.password, PHONE)).json() as AuthTokens
    const b = (await login(account.email, account.password, PHONE)).json() as AuthTokens
    await app.inject({ method: 'POST', url: '/api/v1/auth/logout', payload: { refreshToken: a.refreshToken } })
    const rotated = (await app.inject({
      method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: b.refreshToken }
    })).json() as AuthTokens
    t.ok(rotated.refreshToken)
    const reuse = await eventually(async () => (await app.inject({
      method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: b.refreshToken }
    })).statusCode === 401, { tries: 60, intervalMs: 250 })
    t.ok(reuse, 'an old refresh token presented after the grace window')
    const revoked = (await about(userId)).filter((e) => e.type === 'holo.session.revoked.v1')
    t.match(revoked.at(-2), { actorid: userId, data: { userId, reason: 'logout' } }, 'a logout: the user did it')
    t.match(revoked.at(-1), { data: { userId, reason: 'refresh_token_reuse' } }, 'reuse: the system did it')
    t.notOk('actorid' in (revoked.at(-1) ?? {}), 'with no actor')
  })

  t.test('password change, email verification, reset and profile', async (t) => {
    const me = (await login(account.email, account.password, PHONE)).json() as AuthTokens
    const newPassword = 'a brand new passphrase for events'
    const changed = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password',
      headers: bearer(me.accessToken),
      payload: { currentPassword: account.password, newPassword }
    })
    t.equal(changed.statusCode, 204)
    const wrong = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password',
      headers: bearer(me.accessToken),
      payload: { currentPassword: 'wrong current password', newPassword: 'another new passphrase here' }
    })
    t.equal(wrong.statusCode, 400)
    t.equal((await about(userId)).filter((e) => e.type === 'holo.user.password_changed.v1').length, 1,
      'one change published; the refused one nothing')
    const otherSessions = (await about(userId))
      .filter((e) => e.type === 'holo.session.revoked.v1' && e.data.reason === 'password_change')
    t.ok(otherSessions.length >= 1 && otherSessions.every((e) => e.actorid === userId), 'the other sessions ended')

    const verification = await waitForMail(mail!, account.email, /Confirm your Holo Cards email/)
    t.equal((await app.inject({
      method: 'POST', url: '/api/v1/auth/verify-email', payload: { token: verification.token }
    })).statusCode, 204)
    t.match((await about(userId)).filter((e) => e.type === 'holo.user.email_verified.v1'),
      [{ actorid: userId, data: { email: account.email } }], 'verified once')

    const profile = await app.inject({
      method: 'PATCH', url: '/api/v1/auth/me', headers: bearer(me.accessToken), payload: { bio: 'holo fan', bio2: 1 }
    })
    t.equal(profile.statusCode, 400, 'an unknown field is refused')
    await app.inject({ method: 'PATCH', url: '/api/v1/auth/me', headers: bearer(me.accessToken), payload: { bio: 'holo fan' } })
    await app.inject({ method: 'PATCH', url: '/api/v1/auth/me', headers: bearer(me.accessToken), payload: { bio: 'holo fan' } })
    t.match((await about(userId)).filter((e) => e.type === 'holo.user.profile_updated.v1'),
      [{ actorid: userId, data: { changed: ['bio'] } }], 'one event naming the field; the same value again is no change')

    await app.inject({ method: 'POST', url: '/api/v1/auth/password-reset', payload: { email: account.email } })
    const reset = await waitForMail(mail!, account.email, /Reset your Holo Cards password/)
    t.equal((await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/confirm',
      payload: { token: reset.token, password: 'reset passphrase for events' }
    })).statusCode, 204)
    t.equal((await about(userId)).filter((e) => e.type === 'holo.user.password_reset.v1').length, 1)
    t.equal((await about(userId)).filter((e) => e.type === 'holo.user.email_verified.v1').length, 1,
      'the email was verified already: the reset does not verify it again')
  })

  t.test('an administrator changes roles, disables and enables an account', async (t) => {
    const admin = (await login(ADMIN.BOOTSTRAP_ADMIN_EMAIL, ADMIN.BOOTSTRAP_ADMIN_PASSWORD, LAPTOP)).json() as AuthTokens
    const target = await register(app)
    const id = target.tokens.user.id
    const patch = async (payload: object) => await app.inject({
      method: 'PATCH', url: `/api/v1/auth/users/${id}`, headers: bearer(admin.accessToken), payload
    })
    t.equal((await patch({ roles: ['creator'] })).statusCode, 200)
    t.equal((await patch({ roles: ['creator'] })).statusCode, 200, 'the same roles again')
    t.equal((await patch({ disabled: true })).statusCode, 200)
    t.equal((await patch({ disabled: false })).statusCode, 200)
    const events = (await about(id)).filter((e) => e.type !== 'holo.user.registered.v1')
    t.match(events.map((e) => [e.type, e.actorid]), [
      ['holo.user.roles_changed.v1', admin.user.id],
      ['holo.user.disabled.v1', admin.user.id],
      ['holo.session.revoked.v1', admin.user.id],
      ['holo.user.enabled.v1', admin.user.id]
    ], 'each change once, by the administrator, in order')
    t.same(events[0]?.data, { roles: ['user', 'creator'], previousRoles: ['user'] })
  })

  t.test('the bootstrap admin setting promoting an account publishes the change, by nobody', async (t) => {
    const promoted = await register(app)
    await buildTestApp(t, {
      BOOTSTRAP_ADMIN_EMAIL: promoted.body.email, BOOTSTRAP_ADMIN_PASSWORD: 'ignored for existing accounts'
    }, { databaseUrl: config.DATABASE_URL })
    const [change] = (await about(promoted.tokens.user.id)).filter((e) => e.type === 'holo.user.roles_changed.v1')
    t.same(change?.data, { roles: ['user', 'admin'], previousRoles: ['user'] })
    t.notOk('actorid' in (change ?? {}), 'no actor: the service did it at start')
  })

  t.test('the relay publishes everything on the auth stream, in outbox order', async (t) => {
    const written = (await outboxEvents(config.DATABASE_URL, 'auth')).map((e) => e.id)
    t.ok(await eventually(async () => (await streamedEvents(config.EVENTS_STREAM_PREFIX, 'auth')).length === written.length))
    t.same((await streamedEvents(config.EVENTS_STREAM_PREFIX, 'auth')).map((e) => e.id), written)
  })
})
