import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { freePort } from '@holo/infra/testing'
import { loadConfig } from '../src/config.js'
import { bearer, buildTestApp, buildTestAppWithFiles, register, type AuthTokens } from './helper.js'

const ADMIN = {
  BOOTSTRAP_ADMIN_EMAIL: 'avatar-admin@example.test',
  BOOTSTRAP_ADMIN_PASSWORD: 'avatar admin passphrase'
}

const patchMe = async (app: FastifyInstance, who: AuthTokens, body: Record<string, unknown>): Promise<any> =>
  await app.inject({ method: 'PATCH', url: '/api/v1/auth/me', headers: bearer(who.accessToken), payload: body })
const me = async (app: FastifyInstance, who: AuthTokens): Promise<any> =>
  (await app.inject({ url: '/api/v1/auth/me', headers: bearer(who.accessToken) })).json()

t.test('avatarFileId must name a file the caller may use, as the file service says', async (t) => {
  const h = await buildTestAppWithFiles(t, ADMIN)
  const alice = (await register(h.app)).tokens
  const bob = (await register(h.app)).tokens
  const adminLogin = await h.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email: ADMIN.BOOTSTRAP_ADMIN_EMAIL, password: ADMIN.BOOTSTRAP_ADMIN_PASSWORD }
  })
  t.equal(adminLogin.statusCode, 200, adminLogin.body)
  const admin = adminLogin.json() as AuthTokens
  const alicePublic = await h.files.upload(alice.accessToken)
  const alicePrivate = await h.files.upload(alice.accessToken, { visibility: 'private' })
  const bobPublic = await h.files.upload(bob.accessToken)
  const bobPrivate = await h.files.upload(bob.accessToken, { visibility: 'private' })

  t.test('your own file, public or private: shown in /me and the public profile', async (t) => {
    for (const file of [alicePrivate, alicePublic]) {
      const res = await patchMe(h.app, alice, { avatarFileId: file.id })
      t.equal(res.statusCode, 200, res.body)
      t.equal(res.json().avatarFileId, file.id)
    }
    t.equal((await me(h.app, alice)).avatarFileId, alicePublic.id)
    const profile = await h.app.inject({ url: `/api/v1/auth/profiles/${alice.user.id}` })
    t.equal(profile.json().avatarFileId, alicePublic.id)
  })

  t.test('a missing or another user\'s file is a 400 naming avatarFileId; nothing changes', async (t) => {
    await patchMe(h.app, alice, { avatarFileId: alicePublic.id, displayName: 'Alice' })
    const cases: Array<[string, string, RegExp]> = [
      ['another user\'s private file', bobPrivate.id, /no file of yours/],
      ['another user\'s public file', bobPublic.id, /another user/],
      ['a random uuid', randomUUID(), /no file of yours/]
    ]
    for (const [name, id, detail] of cases) {
      const res = await patchMe(h.app, alice, { avatarFileId: id, displayName: 'Not this' })
      t.equal(res.statusCode, 400, `${name}: ${res.body as string}`)
      t.match(res.headers['content-type'], /^application\/problem\+json/)
      t.equal(res.json().code, 'FILE_REFERENCE_INVALID', name)
      t.match(res.json().errors, [{ field: 'avatarFileId', in: 'body' }], name)
      t.match(res.json().detail, detail, name)
    }
    t.match(await me(h.app, alice), { avatarFileId: alicePublic.id, displayName: 'Alice' }, 'unchanged')
  })

  t.test('admins may use any existing file', async (t) => {
    for (const file of [bobPublic, bobPrivate]) {
      const res = await patchMe(h.app, admin, { avatarFileId: file.id })
      t.equal(res.statusCode, 200, res.body)
    }
    t.equal((await patchMe(h.app, admin, { avatarFileId: randomUUID() })).statusCode, 400, 'but not a missing one')
  })

  t.test('null takes the avatar off', async (t) => {
    t.equal((await patchMe(h.app, bob, { avatarFileId: bobPrivate.id })).statusCode, 200)
    const off = await patchMe(h.app, bob, { avatarFileId: null })
    t.equal(off.statusCode, 200, off.body)
    t.equal(off.json().avatarFileId, null)
    t.equal((await me(h.app, bob)).avatarFileId, null)
  })

  t.test('the id the profile already has is not checked again (e.g. its file was deleted since)', async (t) => {
    const file = await h.files.upload(bob.accessToken)
    t.equal((await patchMe(h.app, bob, { avatarFileId: file.id })).statusCode, 200)
    const url = `/api/v1/files/${file.id as string}`
    t.equal((await h.files.app.inject({ method: 'DELETE', url, headers: bearer(bob.accessToken) })).statusCode, 204)
    const same = await patchMe(h.app, bob, { avatarFileId: file.id, bio: 'Saved the whole profile' })
    t.equal(same.statusCode, 200, same.body)
    t.equal(
      (await patchMe(h.app, alice, { avatarFileId: file.id })).statusCode,
      400,
      'a new reference to it is refused'
    )
  })
})

t.test('the file service unreachable: 503 naming file and /me unchanged', async (t) => {
  const closed = await freePort()
  const { app, deps } = await buildTestApp(t, {
    FILE_SERVICE_URL: `http://127.0.0.1:${closed}`,
    FILE_SERVICE_TIMEOUT_MS: '300'
  })
  const { tokens } = await register(app)
  t.equal((await patchMe(app, tokens, { displayName: 'Before' })).statusCode, 200, 'no avatar, no call')
  const before = await deps.prisma.user.findUniqueOrThrow({ where: { id: tokens.user.id } })

  const down = await patchMe(app, tokens, { avatarFileId: randomUUID(), displayName: 'Not this', bio: 'Nor this' })
  t.equal(down.statusCode, 503, down.body)
  t.match(down.headers['content-type'], /^application\/problem\+json/)
  t.match(down.json(), { code: 'DEPENDENCY_UNAVAILABLE', dependency: 'file' })
  t.ok(down.headers['retry-after'], 'Retry-After set')
  const after = await deps.prisma.user.findUniqueOrThrow({ where: { id: tokens.user.id } })
  t.same(after, before, 'no half-written row')
  t.match(await me(app, tokens), { displayName: 'Before', bio: null, avatarFileId: null })

  // Neither clearing the avatar nor resending the one the profile has calls the file service.
  const kept = randomUUID()
  await deps.prisma.user.update({ where: { id: tokens.user.id }, data: { avatarFileId: kept } })
  const same = await patchMe(app, tokens, { avatarFileId: kept.toUpperCase(), displayName: 'Resaved' })
  t.equal(same.statusCode, 200, same.body)
  t.equal(same.json().avatarFileId, kept)
  const cleared = await patchMe(app, tokens, { avatarFileId: null })
  t.equal(cleared.statusCode, 200, cleared.body)
  t.equal(cleared.json().avatarFileId, null)
})

t.test('config: FILE_SERVICE_URL and FILE_SERVICE_TIMEOUT_MS', async (t) => {
  const dev = loadConfig({})
  t.equal(dev.FILE_SERVICE_URL, 'http://127.0.0.1:3003')
  t.equal(dev.FILE_SERVICE_TIMEOUT_MS, 2000)
  t.equal(loadConfig({ FILE_SERVICE_URL: 'http://file:3003' }).FILE_SERVICE_URL, 'http://file:3003')
  for (const bad of ['ftp://file:3003', 'file:3003', 'http://file:3003?x=1']) {
    t.throws(() => loadConfig({ FILE_SERVICE_URL: bad }), /FILE_SERVICE_URL/, bad)
  }
  for (const bad of ['0', '49', '30001']) {
    t.throws(() => loadConfig({ FILE_SERVICE_TIMEOUT_MS: bad }), /FILE_SERVICE_TIMEOUT_MS/, bad)
  }
})
