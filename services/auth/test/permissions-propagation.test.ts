// A role's permissions changed at the auth service reach ANOTHER service (the real audit service, verifying the
// auth service's tokens over its JWKS and reading the same registry) for a token issued before the change,
// within 5 s and without a restart: by the pub/sub message, and by the version poll alone when a message is
// lost. The audit log records the change. Real PostgreSQL and Redis.
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { eventually } from '@holo/infra/testing'
import { JWKS_PATH, roleRegistryKeys } from '@holo/shared'
// The real audit service (tsconfig.json has rootDir '..' for this).
import { buildTestApp as buildAuditTestApp } from '../../audit/test/helper.js'
import { bearer, buildTestApp, register, type AuthTokens } from './helper.js'

const ADMIN = { BOOTSTRAP_ADMIN_EMAIL: 'prop-admin@example.test', BOOTSTRAP_ADMIN_PASSWORD: 'bootstrap admin passphrase' }
/** At most 5 s, asked every 100 ms: the bound the registry promises. */
const WITHIN_5S = { tries: 50, intervalMs: 100 }

t.test('a role change reaches another service for tokens already issued', async (t) => {
  const auth = await buildTestApp(t, ADMIN)
  await auth.app.listen({ host: '127.0.0.1', port: 0 })
  const authUrl = `http://127.0.0.1:${(auth.app.server.address() as AddressInfo).port}`
  const audit = await buildAuditTestApp(t, {
    AUTH_JWKS_URL: `${authUrl}${JWKS_PATH}`,
    AUTH_ISSUER: auth.config.AUTH_ISSUER,
    ROLES_REGISTRY_KEY: auth.config.ROLES_REGISTRY_KEY,
    // The audit consumer reads the auth service's stream: the role events land in its log.
    EVENTS_STREAM_PREFIX: auth.config.EVENTS_STREAM_PREFIX
  })
  const login = async (email: string, password: string): Promise<AuthTokens> => (await auth.app.inject({
    method: 'POST', url: '/api/v1/auth/login', payload: { email, password }
  })).json() as AuthTokens
  const admin = await login(ADMIN.BOOTSTRAP_ADMIN_EMAIL, ADMIN.BOOTSTRAP_ADMIN_PASSWORD)
  const { body, tokens } = await register(auth.app)
  const promoted = await auth.app.inject({
    method: 'PATCH', url: `/api/v1/auth/users/${tokens.user.id}`, headers: bearer(admin.accessToken), payload: { roles: ['moderator'] }
  })
  t.equal(promoted.statusCode, 200, promoted.body)
  // Issued once, before every change below.
  const moderator = await login(body.email, body.password)
  const readLog = async (): Promise<number> =>
    (await audit.app.inject({ url: '/api/v1/audit/events', headers: bearer(moderator.accessToken) })).statusCode
  const setModerator = async (permissions: string[]): Promise<void> => {
    const res = await auth.app.inject({
      method: 'PUT', url: '/api/v1/auth/roles/moderator', headers: bearer(admin.accessToken), payload: { permissions }
    })
    t.equal(res.statusCode, 200, res.body)
  }

  t.equal(await readLog(), 200, 'a moderator reads the moderation events (audit.read)')
  t.equal((await audit.app.inject({ url: '/api/v1/audit/verify', headers: bearer(moderator.accessToken) })).statusCode,
    403, 'but not the whole log (audit.read_all)')

  t.test('taken away: the audit service refuses the same token within 5 s', async (t) => {
    await setModerator(['cards.hide', 'cards.delete_any', 'reports.resolve', 'users.read'])
    t.ok(await eventually(async () => await readLog() === 403, WITHIN_5S))
    const refused = await audit.app.inject({ url: '/api/v1/audit/events', headers: bearer(moderator.accessToken) })
    t.match(refused.json(), { code: 'FORBIDDEN', detail: /audit\.read/ })
  })

  t.test('given: audit.read_all opens the whole log to the same token', async (t) => {
    await setModerator(['audit.read', 'audit.read_all'])
    t.ok(await eventually(async () => (await audit.app.inject({
      url: '/api/v1/audit/verify', headers: bearer(moderator.accessToken)
    })).statusCode === 200, WITHIN_5S))
    t.equal(await readLog(), 200)
  })

  t.test('the audit log records each change, with the administrator as the actor', async (t) => {
    const changes = async (): Promise<Array<Record<string, any>>> => (await audit.app.inject({
      url: '/api/v1/audit/events?type=holo.role.changed&subject=moderator', headers: bearer(admin.accessToken)
    })).json().items ?? []
    t.ok(await eventually(async () => (await changes()).length === 2, { tries: 100, intervalMs: 100 }))
    const [latest] = await changes()
    t.match(latest, { type: 'holo.role.changed.v1', subject: 'moderator', actorId: admin.user.id })
  })

  t.test('a lost message: the version poll alone converges within 5 s', async (t) => {
    // What the auth service writes, without the PUBLISH that normally announces it.
    const k = roleRegistryKeys(auth.config.ROLES_REGISTRY_KEY)
    const version = Number(await auth.deps.redis.get(k.version)) + 1
    await auth.deps.redis.multi()
      .hset(k.roles, 'moderator', JSON.stringify(['cards.hide']))
      .set(k.version, String(version))
      .exec()
    t.ok(await eventually(async () => await readLog() === 403, WITHIN_5S))
    t.equal(audit.app.roleRegistry.loadedVersion, String(version))
  })
})
