// An administrator's view of an account's sessions: GET /users/{id}/sessions (users.read) and revoking one or all
// of them (users.disable), which every service then refuses at once and the audit log and the bus keep.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { outboxEvents } from '@holo/infra/testing'
import { revokedSessionKey } from '@holo/shared'
import { bearer, buildTestApp, register, type AuthTokens } from './helper.js'

const ADMIN = { BOOTSTRAP_ADMIN_EMAIL: 'root@example.test', BOOTSTRAP_ADMIN_PASSWORD: 'bootstrap admin passphrase' }
const UNKNOWN = '01a21831-6db2-70fc-a85e-e05642648a9d'
const SESSION_KEYS = ['createdAt', 'current', 'id', 'ip', 'lastUsedAt', 'provider', 'userAgent']

async function login (app: FastifyInstance, email: string, password: string, ua: string): Promise<AuthTokens> {
  const res = await app.inject({
    method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, headers: { 'user-agent': ua }
  })
  if (res.statusCode !== 200) throw new Error(`login ${email}: ${res.body}`)
  return res.json() as AuthTokens
}

const sidOf = (accessToken: string): string =>
  String(JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString()).sid)

/** The kit refuses a revoked session's token; its "not revoked" answers may be reused briefly: ten tries, 100 ms apart. */
async function refusedWithinASecond (app: FastifyInstance, accessToken: string): Promise<boolean> {
  for (let i = 0; i < 10; i++) {
    if ((await app.inject({ url: '/api/v1/auth/me', headers: bearer(accessToken) })).statusCode === 401) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return false
}

t.test('an administrator lists and revokes a user\'s sessions', async (t) => {
  const { app, deps, config } = await buildTestApp(t, ADMIN)
  const admin = await login(app, ADMIN.BOOTSTRAP_ADMIN_EMAIL, ADMIN.BOOTSTRAP_ADMIN_PASSWORD, 'admin browser')
  const adminAuth = bearer(admin.accessToken)
  const { body: account, tokens: first } = await register(app)
  const userId = first.user.id
  const second = await login(app, account.email, account.password, 'Phone/2.0')
  const url = `/api/v1/auth/users/${userId}/sessions`

  t.test('users.read lists them, with no token material; users.disable is needed to revoke', async (t) => {
    const res = await app.inject({ url, headers: adminAuth })
    t.equal(res.statusCode, 200, res.body)
    const items = res.json().items as Array<Record<string, unknown>>
    t.same(items.map((s) => s.id).sort(), [sidOf(first.accessToken), sidOf(second.accessToken)].sort())
    t.ok(items.every((s) => Object.keys(s).sort().join() === SESSION_KEYS.join()), 'the own-sessions shape')
    t.match(items[0], { userAgent: 'Phone/2.0', provider: 'password', current: false }, 'most recently used first')
    for (const secret of [first.refreshToken, second.refreshToken, first.accessToken]) {
      t.notOk(res.body.includes(secret), 'no token in the answer')
    }

    t.equal((await app.inject({ url, headers: bearer(first.accessToken) })).statusCode, 403, 'a user may not')
    const mod = await register(app)
    const promote = await app.inject({
      method: 'PATCH', url: `/api/v1/auth/users/${mod.tokens.user.id}`, headers: adminAuth, payload: { roles: ['moderator'] }
    })
    t.equal(promote.statusCode, 200, promote.body)
    const moderator = bearer((await login(app, mod.body.email, mod.body.password, 'mod')).accessToken)
    t.equal((await app.inject({ url, headers: moderator })).statusCode, 200, 'a moderator reads (users.read)')
    for (const target of [url, `${url}/${sidOf(first.accessToken)}`]) {
      const denied = await app.inject({ method: 'DELETE', url: target, headers: moderator })
      t.equal(denied.statusCode, 403, `a moderator may not DELETE ${target}`)
      t.match(denied.json().detail, /users\.disable/)
    }
    t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(first.accessToken) })).statusCode, 200,
      'nothing was revoked')
  })

  t.test('404 for an unknown user or a session not of that user; 400 for a malformed id', async (t) => {
    const unknownUser = await app.inject({ url: `/api/v1/auth/users/${UNKNOWN}/sessions`, headers: adminAuth })
    t.equal(unknownUser.statusCode, 404)
    t.equal(unknownUser.json().code, 'USER_NOT_FOUND')
    for (const target of [`/api/v1/auth/users/${UNKNOWN}/sessions`, `/api/v1/auth/users/${UNKNOWN}/sessions/${UNKNOWN}`]) {
      const res = await app.inject({ method: 'DELETE', url: target, headers: adminAuth })
      t.equal(res.json().code, 'USER_NOT_FOUND', `DELETE ${target}`)
    }
    const foreign = await app.inject({ method: 'DELETE', url: `${url}/${sidOf(admin.accessToken)}`, headers: adminAuth })
    t.equal(foreign.statusCode, 404, 'the admin\'s own session is not this user\'s')
    t.equal(foreign.json().code, 'SESSION_NOT_FOUND')
    t.equal((await app.inject({ url: '/api/v1/auth/me', headers: adminAuth })).statusCode, 200, 'and stays live')
    const bad = await app.inject({ method: 'DELETE', url: `${url}/nope`, headers: adminAuth })
    t.equal(bad.statusCode, 400)
    t.equal(bad.json().errors[0].field, 'sessionId')
  })

  t.test('revoking one ends it everywhere, keeps the other, and is audited and published', async (t) => {
    const sid = sidOf(first.accessToken)
    const res = await app.inject({ method: 'DELETE', url: `${url}/${sid}`, headers: adminAuth })
    t.equal(res.statusCode, 204, res.body)
    t.equal(await deps.redis.exists(revokedSessionKey(sid)), 1, 'the revocation key is set when it answers')
    t.ok(await refusedWithinASecond(app, first.accessToken), 'the revoked session\'s token is refused')
    const refresh = await app.inject({
      method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: first.refreshToken }
    })
    t.equal(refresh.statusCode, 401, 'its refresh token is dead')
    t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(second.accessToken) })).statusCode, 200)
    const left = (await app.inject({ url, headers: adminAuth })).json().items as Array<{ id: string }>
    t.same(left.map((s) => s.id), [sidOf(second.accessToken)])
    const audit = await deps.prisma.auditEvent.findFirst({ where: { event: 'session.revoke', targetId: userId } })
    t.equal(audit?.actorId, admin.user.id)
    t.same(audit?.details, { sessionId: sid })
    const again = await app.inject({ method: 'DELETE', url: `${url}/${sid}`, headers: adminAuth })
    t.equal(again.statusCode, 404, 'an ended session is no longer there to revoke')
    const events = await outboxEvents(config.DATABASE_URL, 'auth', ['holo.session.revoked.v1'])
    t.match(events.find((e) => e.subject === sid), { actorid: admin.user.id, data: { userId, reason: 'admin_revoke' } })
  })

  t.test('revoking all ends every session; the account stays enabled', async (t) => {
    const third = await login(app, account.email, account.password, 'Tablet/3.0')
    const res = await app.inject({ method: 'DELETE', url, headers: adminAuth })
    t.equal(res.statusCode, 204, res.body)
    for (const tokens of [second, third]) {
      t.equal(await deps.redis.exists(revokedSessionKey(sidOf(tokens.accessToken))), 1)
      t.ok(await refusedWithinASecond(app, tokens.accessToken), 'refused')
    }
    t.same((await app.inject({ url, headers: adminAuth })).json().items, [])
    const audit = await deps.prisma.auditEvent.findFirst({ where: { event: 'session.revoke_all', targetId: userId } })
    t.equal(audit?.actorId, admin.user.id)
    t.same(audit?.details, { sessions: 2 })
    await login(app, account.email, account.password, 'back again')
    t.equal((await app.inject({ url, headers: adminAuth })).json().items.length, 1, 'the owner may sign in again')
  })
})
