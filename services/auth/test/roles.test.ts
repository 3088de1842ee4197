// Roles managed at run time: the roles API (CRUD, validation, 403s, the admin lock-out), assigning roles that
// exist, the registry in Redis, the events of each change and /me's permissions. Real PostgreSQL and Redis.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { eventually, outboxEvents, ownRedis } from '@holo/infra/testing'
import { BUILT_IN_ROLES, PERMISSION_NAMES, roleRegistryKeys } from '@holo/shared'
import { bearer, buildTestApp, register, type AuthTokens } from './helper.js'

const ADMIN = { BOOTSTRAP_ADMIN_EMAIL: 'roles-admin@example.test', BOOTSTRAP_ADMIN_PASSWORD: 'bootstrap admin passphrase' }

async function login (app: FastifyInstance, email: string, password: string): Promise<AuthTokens> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
  return res.json() as AuthTokens
}

t.test('roles and permissions', async (t) => {
  const { app, deps, config } = await buildTestApp(t, ADMIN)
  const admin = await login(app, ADMIN.BOOTSTRAP_ADMIN_EMAIL, ADMIN.BOOTSTRAP_ADMIN_PASSWORD)
  const asAdmin = bearer(admin.accessToken)
  const put = async (name: string, payload: unknown, headers = asAdmin) =>
    await app.inject({ method: 'PUT', url: `/api/v1/auth/roles/${name}`, headers, payload: payload as object })
  const del = async (name: string, headers = asAdmin) =>
    await app.inject({ method: 'DELETE', url: `/api/v1/auth/roles/${name}`, headers })
  const roles = async (): Promise<Array<{ name: string, permissions: string[], builtIn: boolean }>> =>
    (await app.inject({ url: '/api/v1/auth/roles', headers: asAdmin })).json().items
  const roleEvents = async () => await outboxEvents(config.DATABASE_URL, 'auth', ['holo.role.changed.v1', 'holo.role.deleted.v1'])
  /** A new account holding `roles`, signed in again so that its token carries them. */
  const account = async (...held: string[]): Promise<AuthTokens> => {
    const { body, tokens } = await register(app)
    if (held.length > 0) {
      const res = await app.inject({
        method: 'PATCH', url: `/api/v1/auth/users/${tokens.user.id}`, headers: asAdmin, payload: { roles: held }
      })
      if (res.statusCode !== 200) throw new Error(res.body)
    }
    return await login(app, body.email, body.password)
  }

  t.test('the built-in roles, seeded by the migration, as the shared list has them', async (t) => {
    const items = await roles()
    t.same(items.map((r) => r.name), ['admin', 'creator', 'moderator', 'user'])
    t.ok(items.every((r) => r.builtIn))
    for (const r of items) t.same(r.permissions, PERMISSION_NAMES.filter((p) => BUILT_IN_ROLES[r.name]?.includes(p)), r.name)
    t.same(items.find((r) => r.name === 'admin')?.permissions, PERMISSION_NAMES, 'admin holds every permission')
  })

  t.test('only users.roles reaches the roles API: a moderator gets 403 naming it', async (t) => {
    const moderator = await account('moderator')
    const user = await account()
    t.equal((await app.inject({ url: '/api/v1/auth/roles' })).statusCode, 401)
    for (const who of [moderator, user]) {
      const h = bearer(who.accessToken)
      const list = await app.inject({ url: '/api/v1/auth/roles', headers: h })
      t.equal(list.statusCode, 403)
      t.match(list.json(), { code: 'FORBIDDEN', detail: /users\.roles/ })
      t.equal((await put('sneaky', { permissions: ['users.roles'] }, h)).statusCode, 403)
      t.equal((await del('creator', h)).statusCode, 403)
    }
    t.notOk((await roles()).some((r) => r.name === 'sneaky'), 'nothing was created')
    // A moderator reads accounts (users.read) but neither assigns roles nor disables.
    const mh = bearer(moderator.accessToken)
    t.equal((await app.inject({ url: '/api/v1/auth/users', headers: mh })).statusCode, 200)
    for (const payload of [{ roles: ['admin'] }, { disabled: true }]) {
      const res = await app.inject({ method: 'PATCH', url: `/api/v1/auth/users/${user.user.id}`, headers: mh, payload })
      t.equal(res.statusCode, 403)
      t.match(res.json().detail, payload.roles !== undefined ? /users\.roles/ : /users\.disable/)
    }
  })

  t.test('create, replace, delete: each committed with its event and mirrored into the registry', async (t) => {
    const k = roleRegistryKeys(config.ROLES_REGISTRY_KEY)
    const version0 = Number(await deps.redis.get(k.version))
    const created = await put('support', { permissions: ['users.read', 'cards.hide'] })
    t.equal(created.statusCode, 201, created.body)
    t.same(created.json(), { name: 'support', permissions: ['cards.hide', 'users.read'], builtIn: false })
    const replaced = await put('support', { permissions: ['users.read'] })
    t.equal(replaced.statusCode, 200)
    t.same(replaced.json().permissions, ['users.read'])
    t.equal((await put('support', { permissions: ['users.read'] })).statusCode, 200, 'the same again')
    t.same(JSON.parse(await deps.redis.hget(k.roles, 'support') ?? 'null'), ['users.read'])
    t.equal(Number(await deps.redis.get(k.version)), version0 + 2, 'one version per change, none for no change')

    const events = await roleEvents()
    t.match(events.map((e) => ({ type: e.type, subject: e.subject, actorid: e.actorid, data: e.data })), [
      {
        type: 'holo.role.changed.v1',
        subject: 'support',
        actorid: admin.user.id,
        data: { permissions: ['cards.hide', 'users.read'], previousPermissions: null }
      },
      {
        type: 'holo.role.changed.v1',
        subject: 'support',
        actorid: admin.user.id,
        data: { permissions: ['users.read'], previousPermissions: ['cards.hide', 'users.read'] }
      }
    ])
    t.equal(events.length, 2, 'the unchanged put wrote no event')

    const deleted = await del('support')
    t.equal(deleted.statusCode, 204)
    t.notOk((await roles()).some((r) => r.name === 'support'))
    t.equal(await deps.redis.hget(k.roles, 'support'), null)
    t.match((await roleEvents()).at(-1), {
      type: 'holo.role.deleted.v1', subject: 'support', actorid: admin.user.id, data: { previousPermissions: ['users.read'] }
    })
    t.equal((await del('support')).statusCode, 404, 'gone')
  })

  t.test('bad input is a 400 naming the field, with nothing written', async (t) => {
    const before = (await roleEvents()).length
    const unknown = await put('helpdesk', { permissions: ['users.read', 'root.everything'] })
    t.equal(unknown.statusCode, 400)
    t.match(unknown.json().errors[0].field, /^permissions/)
    for (const [name, payload] of [
      ['Bad!', { permissions: [] }],
      ['x', { permissions: [] }],
      ['a'.repeat(33), { permissions: [] }],
      ['helpdesk', { permissions: ['users.read', 'users.read'] }],
      ['helpdesk', {}],
      ['helpdesk', { permissions: [], builtIn: true }]
    ] as const) {
      const res = await put(name, payload)
      t.equal(res.statusCode, 400, `${name} ${JSON.stringify(payload)}`)
      t.match(res.headers['content-type'], /^application\/problem\+json/)
    }
    t.notOk((await roles()).some((r) => r.name === 'helpdesk'))
    t.equal((await roleEvents()).length, before, 'no event')
  })

  t.test('built-in and held roles are never deleted; admin never loses users.roles', async (t) => {
    for (const name of ['user', 'creator', 'moderator', 'admin']) {
      const res = await del(name)
      t.equal(res.statusCode, 409, name)
      t.equal(res.json().code, 'ROLE_BUILT_IN')
    }
    t.equal((await put('curator', { permissions: ['cards.hide'] })).statusCode, 201)
    const holder = await account('curator')
    const held = await del('curator')
    t.equal(held.statusCode, 409)
    t.match(held.json(), { code: 'ROLE_IN_USE', holders: 1 })
    // Taken from its holder, it can go.
    await app.inject({ method: 'PATCH', url: `/api/v1/auth/users/${holder.user.id}`, headers: asAdmin, payload: { roles: [] } })
    t.equal((await del('curator')).statusCode, 204)

    const lockout = await put('admin', { permissions: ['users.read'] })
    t.equal(lockout.statusCode, 409)
    t.equal(lockout.json().code, 'ROLE_LOCKOUT')
    t.same((await roles()).find((r) => r.name === 'admin')?.permissions, PERMISSION_NAMES, 'admin unchanged')
    // Fewer permissions for admin are fine while users.roles stays (and admin gets them back).
    const trimmed = await put('admin', { permissions: ['users.roles', 'users.read'] })
    t.equal(trimmed.statusCode, 200)
    t.equal((await put('admin', { permissions: PERMISSION_NAMES })).statusCode, 200)
  })

  t.test('assignments name roles that exist; the admin list filters by them', async (t) => {
    const { tokens } = await register(app)
    const url = `/api/v1/auth/users/${tokens.user.id}`
    t.equal((await put('editor', { permissions: ['templates.manage'] })).statusCode, 201)
    const ok = await app.inject({ method: 'PATCH', url, headers: asAdmin, payload: { roles: ['editor', 'creator'] } })
    t.equal(ok.statusCode, 200, ok.body)
    t.same(ok.json().roles.sort(), ['creator', 'editor', 'user'])
    const bad = await app.inject({ method: 'PATCH', url, headers: asAdmin, payload: { roles: ['editor', 'emperor'] } })
    t.equal(bad.statusCode, 400)
    t.match(bad.json(), { code: 'UNKNOWN_ROLES', errors: [{ field: 'roles', in: 'body' }], detail: /emperor/ })
    const row = await deps.prisma.user.findUniqueOrThrow({ where: { id: tokens.user.id } })
    t.same(row.roles.sort(), ['creator', 'editor', 'user'], 'unchanged')
    const listed = await app.inject({ url: '/api/v1/auth/users?role=editor', headers: asAdmin })
    t.same(listed.json().items.map((u: { id: string }) => u.id), [tokens.user.id])
    const unknown = await app.inject({ url: '/api/v1/auth/users?role=emperor', headers: asAdmin })
    t.equal(unknown.statusCode, 400)
    t.equal(unknown.json().errors[0].field, 'role')
    // An admin keeps users.roles through any role that grants it, and cannot give it up.
    const self = await app.inject({
      method: 'PATCH', url: `/api/v1/auth/users/${admin.user.id}`, headers: asAdmin, payload: { roles: ['editor'] }
    })
    t.equal(self.json().code, 'SELF_LOCKOUT')
  })

  t.test('/me has the permissions the token\'s roles grant now; a change applies to tokens already issued', async (t) => {
    t.equal((await put('reviewer', { permissions: ['users.read'] })).statusCode, 201)
    const reviewer = await account('reviewer')
    const h = bearer(reviewer.accessToken)
    const me = async () => (await app.inject({ url: '/api/v1/auth/me', headers: h })).json()
    t.same((await me()).permissions, ['users.read'])
    t.same((await me()).roles.sort(), ['reviewer', 'user'])
    t.equal((await app.inject({ url: '/api/v1/auth/users', headers: h })).statusCode, 200)
    t.equal((await put('reviewer', { permissions: ['audit.read'] })).statusCode, 200)
    // This instance applies its own change at once; other services follow within seconds (permissions-propagation).
    t.same((await me()).permissions, ['audit.read'])
    t.equal((await app.inject({ url: '/api/v1/auth/users', headers: h })).statusCode, 403)
    t.same((await app.inject({ url: '/api/v1/auth/me', headers: asAdmin })).json().permissions, PERMISSION_NAMES)
    t.same((await app.inject({ url: '/api/v1/auth/me', headers: bearer((await account()).accessToken) })).json().permissions, [])
  })

  t.test('at start the service writes the registry from its table (a fresh Redis learns it)', async (t) => {
    const key = `${config.RATE_LIMIT_NAMESPACE}fresh-roles`
    const other = await buildTestApp(t, { ...ADMIN, ROLES_REGISTRY_KEY: key }, { databaseUrl: config.DATABASE_URL })
    t.teardown(async () => { await deps.redis.del(key, `${key}:version`) })
    const written = await other.deps.redis.hgetall(key)
    t.same(JSON.parse(written.reviewer ?? 'null'), ['audit.read'], 'a role made at run time')
    t.same(JSON.parse(written.admin ?? 'null'), PERMISSION_NAMES)
    t.equal(other.app.roleRegistry.loadedVersion, await deps.redis.get(`${key}:version`))
  })
})

t.test('a change made while Redis is down reaches the registry once Redis is back', async (t) => {
  const own = await ownRedis(t)
  const { app, deps, config } = await buildTestApp(t, { ...ADMIN, REDIS_URL: own.url })
  const admin = await login(app, ADMIN.BOOTSTRAP_ADMIN_EMAIL, ADMIN.BOOTSTRAP_ADMIN_PASSWORD)
  const k = roleRegistryKeys(config.ROLES_REGISTRY_KEY)
  t.same(JSON.parse(await deps.redis.hget(k.roles, 'creator') ?? 'null'), ['templates.publish'], 'written at start')
  await own.stop()
  const res = await app.inject({
    method: 'PUT',
    url: '/api/v1/auth/roles/creator',
    headers: bearer(admin.accessToken),
    payload: { permissions: ['templates.publish', 'templates.manage'] }
  })
  t.equal(res.statusCode, 200, 'the table is the truth: the change commits without Redis')
  // A restart without persistence: Redis comes back empty, and learns the table again.
  await own.start()
  t.ok(await eventually(async () => JSON.parse(await deps.redis.hget(k.roles, 'creator').catch(() => null) ?? 'null')
    ?.includes('templates.manage') === true, { tries: 100, intervalMs: 100 }))
})
