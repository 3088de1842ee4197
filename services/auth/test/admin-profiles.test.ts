import t from 'tap'
import { bearer, buildTestApp, newAccount, register, type AuthTokens } from './helper.js'

const ADMIN = { BOOTSTRAP_ADMIN_EMAIL: 'Root@Example.test', BOOTSTRAP_ADMIN_PASSWORD: 'bootstrap admin passphrase' }

t.test('admin bootstrap, user management and profiles', async (t) => {
  const { app, deps, config } = await buildTestApp(t, ADMIN)
  const adminLogin = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email: 'root@example.test', password: ADMIN.BOOTSTRAP_ADMIN_PASSWORD }
  })
  t.equal(adminLogin.statusCode, 200, adminLogin.body)
  const admin = adminLogin.json() as AuthTokens
  t.same(admin.user.roles.sort(), ['admin', 'user'])
  t.equal(admin.user.emailVerified, true)

  t.test('bootstrap is idempotent and promotes an existing account', async (t) => {
    const again = await buildTestApp(t, ADMIN, { databaseUrl: config.DATABASE_URL })
    t.equal(await again.deps.prisma.user.count({ where: { email: 'root@example.test' } }), 1)
    const { body } = await register(app)
    const promoted = await buildTestApp(t, {
      BOOTSTRAP_ADMIN_EMAIL: body.email,
      BOOTSTRAP_ADMIN_PASSWORD: 'ignored for existing accounts'
    }, { databaseUrl: config.DATABASE_URL })
    const row = await promoted.deps.prisma.user.findUniqueOrThrow({ where: { email: body.email } })
    t.ok(row.roles.includes('admin'))
    const login = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: body.email, password: body.password }
    })
    t.equal(login.statusCode, 200, 'the existing password is kept')
  })

  t.test('only admins reach the user routes', async (t) => {
    const { tokens } = await register(app)
    t.equal((await app.inject({ url: '/api/v1/auth/users' })).statusCode, 401)
    const res = await app.inject({ url: '/api/v1/auth/users', headers: bearer(tokens.accessToken) })
    t.equal(res.statusCode, 403)
    t.equal((await app.inject({
      url: `/api/v1/auth/users/${tokens.user.id}`,
      headers: bearer(tokens.accessToken)
    })).statusCode, 403)
    t.equal((await app.inject({
      method: 'PATCH',
      url: `/api/v1/auth/users/${tokens.user.id}`,
      headers: bearer(tokens.accessToken),
      payload: { roles: ['admin'] }
    })).statusCode, 403)
  })

  t.test('search, filter and page through users', async (t) => {
    const prefix = `pg${Date.now().toString(36)}`
    for (let i = 0; i < 5; i++) await register(app, { ...newAccount(prefix), username: `${prefix}_${i}` })
    const all: string[] = []
    let cursor: string | null = null
    do {
      const query: string = `q=${prefix}&limit=2${cursor !== null ? `&cursor=${cursor}` : ''}`
      const page = await app.inject({ url: `/api/v1/auth/users?${query}`, headers: bearer(admin.accessToken) })
      t.equal(page.statusCode, 200, page.body)
      const json = page.json() as { items: Array<{ username: string, email: string }>, nextCursor: string | null }
      t.ok(json.items.length <= 2)
      all.push(...json.items.map((u) => u.username))
      t.ok(json.items.every((u) => u.email.includes('@')), 'admins see emails')
      cursor = json.nextCursor
    } while (cursor !== null)
    t.same(all.sort(), [0, 1, 2, 3, 4].map((i) => `${prefix}_${i}`))
    const admins = await app.inject({ url: '/api/v1/auth/users?role=admin', headers: bearer(admin.accessToken) })
    t.ok((admins.json().items as Array<{ roles: string[] }>).every((u) => u.roles.includes('admin')))
    const badRole = await app.inject({ url: '/api/v1/auth/users?role=king', headers: bearer(admin.accessToken) })
    t.equal(badRole.statusCode, 400)
    t.equal(badRole.json().errors[0].field, 'role')
    const badCursor = await app.inject({ url: '/api/v1/auth/users?cursor=zzz', headers: bearer(admin.accessToken) })
    t.equal(badCursor.statusCode, 400)
    t.equal(badCursor.json().code, 'INVALID_CURSOR', 'the same code as every other listing')
    t.equal(badCursor.json().errors[0].field, 'cursor')
    const foreign = Buffer.from(JSON.stringify(['cards', admin.user.id])).toString('base64url')
    const otherListing = await app.inject({
      url: `/api/v1/auth/users?cursor=${foreign}`,
      headers: bearer(admin.accessToken)
    })
    t.equal(otherListing.json().code, 'INVALID_CURSOR', 'a cursor of another listing is refused')
    const badLimit = await app.inject({ url: '/api/v1/auth/users?limit=1000', headers: bearer(admin.accessToken) })
    t.equal(badLimit.statusCode, 400)
    t.equal(badLimit.json().errors[0].field, 'limit')
  })

  t.test('%, _ and \\ in a search term are literal, not LIKE wildcards', async (t) => {
    const p = `lk${Date.now().toString(36)}`
    const make = async (local: string, username: string) => {
      const { res } = await register(app, { ...newAccount(), email: `${local}@example.test`, username })
      t.equal(res.statusCode, 201, `register ${local}`)
    }
    await make(`${p}%pct`, `${p}1`)
    await make(`${p}_und`, `${p}2`)
    await make(`${p}\\bsl`, `${p}3`)
    await make(`${p}xplain`, `${p}4`)
    await make(`${p}yplain`, `${p}_5`)
    const search = async (q: string): Promise<string[]> => {
      const url = `/api/v1/auth/users?limit=100&q=${encodeURIComponent(q)}`
      const res = await app.inject({ url, headers: bearer(admin.accessToken) })
      t.equal(res.statusCode, 200, `q=${q} answers 200`)
      return (res.json().items as Array<{ email: string, username: string }>).map((u) => `${u.username} ${u.email}`)
    }
    t.same(await search(`${p}%`), [`${p}1 ${p}%pct@example.test`], '% matches only a %')
    const underscores = [`${p}2 ${p}_und@example.test`, `${p}_5 ${p}yplain@example.test`]
    t.same(await search(`${p}_`), underscores, '_ matches only a _')
    t.same(await search(`${p}\\b`), [`${p}3 ${p}\\bsl@example.test`], '\\ matches only a \\')
    t.same(await search(`${p}\\`), [`${p}3 ${p}\\bsl@example.test`], 'a trailing \\ is no escape character')
    t.same(await search(`${p}%PCT`), [`${p}1 ${p}%pct@example.test`], 'still case-insensitive')
    const anyPercent = await search('%')
    t.ok(anyPercent.length >= 1 && anyPercent.every((u) => u.includes('%')), `q=% finds only a %: ${anyPercent.join()}`)
    const anyUnderscore = await search('_')
    t.ok(anyUnderscore.length >= 2 && anyUnderscore.every((u) => u.includes('_')), 'q=_ finds only names with a _')
  })

  t.test('roles change (user is always kept) and are audited', async (t) => {
    const { tokens } = await register(app)
    const res = await app.inject({
      method: 'PATCH',
      url: `/api/v1/auth/users/${tokens.user.id}`,
      headers: bearer(admin.accessToken),
      payload: { roles: ['creator', 'moderator'] }
    })
    t.equal(res.statusCode, 200, res.body)
    t.same(res.json().roles.sort(), ['creator', 'moderator', 'user'])
    const got = await app.inject({ url: `/api/v1/auth/users/${tokens.user.id}`, headers: bearer(admin.accessToken) })
    t.same(got.json().roles.sort(), ['creator', 'moderator', 'user'])
    const audit = await deps.prisma.auditEvent.findFirst({ where: { event: 'role.change', targetId: tokens.user.id } })
    t.equal(audit?.actorId, admin.user.id)
    const bad = await app.inject({
      method: 'PATCH',
      url: `/api/v1/auth/users/${tokens.user.id}`,
      headers: bearer(admin.accessToken),
      payload: { roles: ['emperor'] }
    })
    t.equal(bad.statusCode, 400)
    t.match(bad.json().errors[0].field, /^roles/)
    const missing = await app.inject({
      url: '/api/v1/auth/users/01a21831-6db2-70fc-a85e-e05642648a9d',
      headers: bearer(admin.accessToken)
    })
    t.equal(missing.statusCode, 404)
    const empty = await app.inject({
      method: 'PATCH',
      url: `/api/v1/auth/users/${tokens.user.id}`,
      headers: bearer(admin.accessToken),
      payload: {}
    })
    t.equal(empty.statusCode, 400)
  })

  t.test('disabling ends every session at once; the account cannot log in; its profile is gone', async (t) => {
    const { body, tokens } = await register(app)
    const profile = await app.inject({ url: `/api/v1/auth/profiles/${tokens.user.id}` })
    t.equal(profile.statusCode, 200)
    const res = await app.inject({
      method: 'PATCH',
      url: `/api/v1/auth/users/${tokens.user.id}`,
      headers: bearer(admin.accessToken),
      payload: { disabled: true }
    })
    t.equal(res.statusCode, 200)
    t.equal(res.json().disabled, true)
    t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(tokens.accessToken) })).statusCode, 401)
    t.equal((await app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refreshToken: tokens.refreshToken }
    })).statusCode, 401)
    t.equal((await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: body.email, password: body.password }
    })).statusCode, 403)
    t.equal((await app.inject({ url: `/api/v1/auth/profiles/${tokens.user.id}` })).statusCode, 404)
    t.ok(await deps.prisma.auditEvent.findFirst({
      where: { event: 'user.disable', targetId: tokens.user.id, actorId: admin.user.id }
    }))
    const enable = await app.inject({
      method: 'PATCH',
      url: `/api/v1/auth/users/${tokens.user.id}`,
      headers: bearer(admin.accessToken),
      payload: { disabled: false }
    })
    t.equal(enable.json().disabled, false)
    t.equal((await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: body.email, password: body.password }
    })).statusCode, 200)
  })

  t.test('admins cannot lock themselves out', async (t) => {
    const res = await app.inject({
      method: 'PATCH',
      url: `/api/v1/auth/users/${admin.user.id}`,
      headers: bearer(admin.accessToken),
      payload: { disabled: true }
    })
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'SELF_LOCKOUT')
  })

  t.test('PATCH /me updates the profile; a taken username is 409', async (t) => {
    const { tokens } = await register(app)
    const other = await register(app)
    // avatarFileId is checked with the file service: avatar.test.ts.
    const res = await app.inject({
      method: 'PATCH',
      url: '/api/v1/auth/me',
      headers: bearer(tokens.accessToken),
      payload: { displayName: 'Ada', bio: 'Holo fan' }
    })
    t.equal(res.statusCode, 200, res.body)
    t.match(res.json(), { displayName: 'Ada', bio: 'Holo fan', avatarFileId: null })
    const taken = await app.inject({
      method: 'PATCH',
      url: '/api/v1/auth/me',
      headers: bearer(tokens.accessToken),
      payload: { username: other.body.username.toUpperCase() }
    })
    t.equal(taken.statusCode, 409)
    const renamed = await app.inject({
      method: 'PATCH',
      url: '/api/v1/auth/me',
      headers: bearer(tokens.accessToken),
      payload: { username: `New_${tokens.user.username}`.slice(0, 32) }
    })
    t.equal(renamed.json().username, `new_${tokens.user.username}`.slice(0, 32))
    const cleared = await app.inject({
      method: 'PATCH',
      url: '/api/v1/auth/me',
      headers: bearer(tokens.accessToken),
      payload: { bio: null }
    })
    t.equal(cleared.json().bio, null)
    const bad = await app.inject({
      method: 'PATCH',
      url: '/api/v1/auth/me',
      headers: bearer(tokens.accessToken),
      payload: { avatarFileId: 'nope' }
    })
    t.equal(bad.statusCode, 400)
    t.match(bad.json().errors[0].field, /^avatarFileId/)
    const noRoles = await app.inject({
      method: 'PATCH',
      url: '/api/v1/auth/me',
      headers: bearer(tokens.accessToken),
      payload: { roles: ['admin'] }
    })
    t.equal(noRoles.statusCode, 400, 'roles cannot be self-assigned')
    t.equal(noRoles.json().errors[0].field, 'roles')
  })

  t.test('public profiles show no email and skip unknown or disabled users', async (t) => {
    const a = await register(app)
    const b = await register(app)
    const one = await app.inject({ url: `/api/v1/auth/profiles/${a.tokens.user.id}` })
    t.same(Object.keys(one.json()).sort(), ['avatarFileId', 'bio', 'displayName', 'id', 'username'])
    await deps.prisma.user.update({ where: { id: b.tokens.user.id }, data: { disabledAt: new Date() } })
    const unknown = '01a21831-6db2-70fc-a85e-e05642648a9d'
    const many = await app.inject({
      url: `/api/v1/auth/profiles?ids=${a.tokens.user.id},${b.tokens.user.id},${unknown},${a.tokens.user.id}`
    })
    t.equal(many.statusCode, 200)
    t.same(many.json().items.map((p: { id: string }) => p.id), [a.tokens.user.id])
    t.notOk(many.body.includes('@'), 'no email anywhere')
    t.equal((await app.inject({ url: `/api/v1/auth/profiles/${unknown}` })).statusCode, 404)
    const tooMany = await app.inject({
      url: `/api/v1/auth/profiles?ids=${Array.from({ length: 101 }, () => unknown).join(',')}`
    })
    t.equal(tooMany.statusCode, 400)
    t.equal(tooMany.json().errors[0].field, 'ids')
    const bad = await app.inject({ url: '/api/v1/auth/profiles?ids=1,2' })
    t.equal(bad.statusCode, 400)
    t.equal((await app.inject({
      url: `/api/v1/auth/profiles?ids=${Array.from({ length: 100 }, () => unknown).join(',')}`
    })).statusCode, 200, '100 ids are fine')
  })
})
