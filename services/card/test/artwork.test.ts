import { randomUUID } from 'node:crypto'
import { createServer, type Socket } from 'node:net'
import t from 'tap'
import { freePort } from '@holo/infra/testing'
import { loadConfig } from '../src/config.js'
import { buildTestApp, buildTestAppWithFiles, type TestApp, type TestUser } from './helper.js'

const create = async (h: TestApp, who: TestUser, body: Record<string, unknown>): Promise<any> =>
  await h.app.inject({ method: 'POST', url: '/api/v1/cards', headers: who.auth, payload: { title: 'Art', ...body } })
const patch = async (h: TestApp, who: TestUser, id: string, body: Record<string, unknown>): Promise<any> =>
  await h.app.inject({ method: 'PATCH', url: `/api/v1/cards/${id}`, headers: who.auth, payload: body })

t.test('artworkFileId must name a file the caller may use, as the file service says', async (t) => {
  const h = await buildTestAppWithFiles(t)
  const alice = h.user()
  const bob = h.user()
  const admin = h.user(['admin'])
  const alicePublic = await h.files.upload(alice)
  const alicePrivate = await h.files.upload(alice, { visibility: 'private' })
  const bobPublic = await h.files.upload(bob)
  const bobPrivate = await h.files.upload(bob, { visibility: 'private' })
  const cards = async (): Promise<number> => await h.deps.prisma.card.count()

  t.test('create: your own files, public or private', async (t) => {
    for (const file of [alicePublic, alicePrivate]) {
      const res = await create(h, alice, { artworkFileId: file.id })
      t.equal(res.statusCode, 201, res.body)
      t.equal(res.json().artworkFileId, file.id)
    }
  })

  t.test('create: a missing or foreign file is a 400 naming artworkFileId, and nothing is written', async (t) => {
    const before = await cards()
    const cases: Array<[string, string]> = [
      ['no such file', randomUUID()],
      ['another user\'s public file', bobPublic.id],
      ['another user\'s private file', bobPrivate.id]
    ]
    for (const [name, id] of cases) {
      const res = await create(h, alice, { artworkFileId: id })
      t.equal(res.statusCode, 400, `${name}: ${res.body as string}`)
      t.match(res.headers['content-type'], /^application\/problem\+json/)
      t.equal(res.json().code, 'FILE_REFERENCE_INVALID', name)
      t.match(res.json().errors, [{ field: 'artworkFileId', in: 'body' }], name)
    }
    t.match((await create(h, alice, { artworkFileId: bobPublic.id })).json().detail, /another user/)
    t.equal(await cards(), before, 'no card written')
  })

  t.test('admins may use any file', async (t) => {
    for (const file of [bobPublic, bobPrivate]) {
      t.equal((await create(h, admin, { artworkFileId: file.id })).statusCode, 201)
    }
    t.equal((await create(h, admin, { artworkFileId: randomUUID() })).statusCode, 400, 'but not a missing one')
  })

  t.test('update: a new reference is checked the same way; null takes the artwork off', async (t) => {
    const card = (await create(h, alice, { artworkFileId: alicePublic.id })).json()
    const foreign = await patch(h, alice, card.id, { artworkFileId: bobPublic.id })
    t.equal(foreign.statusCode, 400)
    t.equal(foreign.json().errors[0].field, 'artworkFileId')
    t.equal((await patch(h, alice, card.id, { artworkFileId: randomUUID() })).json().code, 'FILE_REFERENCE_INVALID')
    const read = await h.app.inject({ url: `/api/v1/cards/${card.id as string}`, headers: alice.auth })
    t.equal(read.json().artworkFileId, alicePublic.id, 'refused changes left the card alone')
    t.equal(read.headers.etag, '"v1.c0.l0"', 'not even its version moved')
    const mine = await patch(h, alice, card.id, { artworkFileId: alicePrivate.id })
    t.equal(mine.statusCode, 200)
    t.equal(mine.json().artworkFileId, alicePrivate.id)
    const off = await patch(h, alice, card.id, { artworkFileId: null })
    t.equal(off.statusCode, 200)
    t.equal(off.json().artworkFileId, null)
  })

  t.test('a deleted file can no longer be referenced; cards that show it keep their id', async (t) => {
    const file = await h.files.upload(alice)
    const card = (await create(h, alice, { artworkFileId: file.id })).json()
    const url = `/api/v1/files/${file.id as string}`
    const del = await h.files.app.inject({ method: 'DELETE', url, headers: alice.auth })
    t.equal(del.statusCode, 204)
    t.equal((await create(h, alice, { artworkFileId: file.id })).statusCode, 400)
    // Sending the unchanged id back (a client saving the whole card) is no new reference.
    const same = await patch(h, alice, card.id, { artworkFileId: file.id, title: 'Renamed' })
    t.equal(same.statusCode, 200, same.body)
  })
})

t.test('the file service down or silent: 503 naming file, no card written or changed', async (t) => {
  const closed = await freePort()
  const down = await buildTestApp(t, { FILE_SERVICE_URL: `http://127.0.0.1:${closed}` })
  const alice = down.user()
  const card = await down.card(alice)

  const refused = await create(down, alice, { artworkFileId: randomUUID() })
  t.equal(refused.statusCode, 503, refused.body)
  t.match(refused.headers['content-type'], /^application\/problem\+json/)
  t.match(refused.json(), { code: 'DEPENDENCY_UNAVAILABLE', dependency: 'file' })
  t.equal(refused.headers['retry-after'], '5')
  t.equal(await down.deps.prisma.card.count(), 1, 'only the card made before')
  const patched = await patch(down, alice, card.id, { artworkFileId: randomUUID(), title: 'Not this' })
  t.equal(patched.statusCode, 503)
  t.equal(patched.json().dependency, 'file')
  const read = (await down.app.inject({ url: `/api/v1/cards/${card.id as string}` })).json()
  t.match(read, { title: card.title, artworkFileId: null }, 'unchanged')
  t.equal((await create(down, alice, {})).statusCode, 201, 'cards without artwork do not need the file service')

  // A file service that accepts connections and never answers: the timeout turns it into a 503 as well.
  const sockets = new Set<Socket>()
  const silent = createServer((s) => { sockets.add(s) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => silent.close(resolve))
  })
  const port = (silent.address() as { port: number }).port
  const slow = await buildTestApp(t, { FILE_SERVICE_URL: `http://127.0.0.1:${port}`, FILE_SERVICE_TIMEOUT_MS: '300' })
  const bob = slow.user()
  const timedOut = await create(slow, bob, { artworkFileId: randomUUID() })
  t.equal(timedOut.statusCode, 503)
  t.equal(timedOut.json().dependency, 'file')
  t.equal(await slow.deps.prisma.card.count(), 0)
  t.ok(sockets.size > 0, 'the card service did call it')
})

t.test('config: FILE_SERVICE_URL and FILE_SERVICE_TIMEOUT_MS', async (t) => {
  const dev = loadConfig({})
  t.equal(dev.FILE_SERVICE_URL, 'http://127.0.0.1:3003')
  t.equal(dev.FILE_SERVICE_TIMEOUT_MS, 2000)
  t.equal(loadConfig({ FILE_SERVICE_URL: 'http://file:3003' }).FILE_SERVICE_URL, 'http://file:3003')
  const prefixed = 'https://gw.example/internal'
  t.equal(loadConfig({ FILE_SERVICE_URL: prefixed }).FILE_SERVICE_URL, prefixed)
  for (const bad of ['ftp://file:3003', 'file:3003', 'http://', 'http://file:3003?x=1', 'http://file 3003']) {
    t.throws(() => loadConfig({ FILE_SERVICE_URL: bad }), /FILE_SERVICE_URL/, bad)
  }
  t.throws(() => loadConfig({ FILE_SERVICE_TIMEOUT_MS: '0' }), /FILE_SERVICE_TIMEOUT_MS/)
})
