import t from 'tap'
import { outboxEvents } from '@holo/infra/testing'
import { fileUploaded } from '../src/modules/files/files.events.js'
import { FilesRepository } from '../src/modules/files/files.repository.js'
import { buildTestApp, leftovers, makeImage, upload } from './helper.js'

t.test('quotas', async (t) => {
  const QUOTA = 100_000
  const ta = await buildTestApp(t, { FILE_QUOTA_BYTES: String(QUOTA) })
  const uploadedEvents = async (ownerId: string): Promise<number> =>
    (await outboxEvents(ta.db, 'file', ['holo.file.uploaded.v1'])).filter((e) => e.data.ownerId === ownerId).length

  t.test('concurrent uploads against a nearly full quota never exceed it', async (t) => {
    const alice = ta.user()
    const images = await Promise.all(Array.from({ length: 10 }, () =>
      makeImage({ width: 100, height: 100, noise: true })))
    const results = await Promise.all(images.map((img) => upload(ta, alice, img)))
    const created = results.filter((r) => r.statusCode === 201).map((r) => r.json())
    const refused = results.filter((r) => r.statusCode === 413).map((r) => r.json())
    t.equal(created.length + refused.length, 10, 'each upload is either stored or refused')
    t.ok(created.length >= 2, `some fit (${created.length})`)
    t.ok(refused.length >= 1, `some do not (${refused.length})`)
    const stored = created.reduce((sum, f) => sum + f.size, 0)
    t.ok(stored <= QUOTA, `${stored} bytes stored within ${QUOTA}`)
    for (const p of refused) {
      t.equal(p.code, 'QUOTA_EXCEEDED')
      t.match(p.detail, /would exceed your storage quota: [\d.]+ MiB of 0\.1 MiB used/)
    }
    const usage = (await ta.app.inject({ url: '/api/v1/files/usage', headers: alice.headers })).json()
    t.same(usage, { used: stored, quota: QUOTA })
    const left = await leftovers(ta)
    t.equal(left.objects.length, created.length, 'refused uploads left no object')
    t.same(left.temp, [])
  })

  t.test('the transaction alone holds the line (no early check)', async (t) => {
    const repo = new FilesRepository(ta.deps.prisma, ta.config.DATABASE_SCHEMA)
    const ownerId = ta.user().id
    const attempts = await Promise.all(Array.from({ length: 12 }, (_, i) => repo.commit({
      ownerId, purpose: 'artwork', visibility: 'public', filename: `f${i}.png`, contentType: 'image/png',
      size: 30_000, sha256: String(i).padStart(64, '0'), width: 1, height: 1,
      storageKey: `files/test-${ownerId}-${i}/original`
    }, QUOTA, (f) => [fileUploaded(f)])))
    t.equal(attempts.filter((a) => a.kind === 'created').length, 3, 'exactly three of 30 kB fit in 100 kB')
    t.equal(attempts.filter((a) => a.kind === 'quota').length, 9)
    t.equal(await repo.usedBy(ownerId), 90_000)
    t.equal(await uploadedEvents(ownerId), 3, 'an event for each file kept, none for the refused ones')
  })

  t.test('concurrent uploads of the same bytes by one user give one file', async (t) => {
    const repo = new FilesRepository(ta.deps.prisma, ta.config.DATABASE_SCHEMA)
    const ownerId = ta.user().id
    const file = (i: number) => ({
      ownerId, purpose: 'artwork', visibility: 'public', filename: 'same.png', contentType: 'image/png',
      size: 1000, sha256: 'f'.repeat(64), width: 1, height: 1, storageKey: `files/dup-${ownerId}-${i}/original`
    })
    const results = await Promise.all([0, 1, 2, 3].map((i) => repo.commit(file(i), QUOTA, (f) => [fileUploaded(f)])))
    t.equal(results.filter((r) => r.kind === 'created').length, 1)
    t.equal(results.filter((r) => r.kind === 'duplicate').length, 3)
    const ids = new Set(results.map((r) => r.kind === 'quota' ? undefined : r.file.id))
    t.equal(ids.size, 1, 'all point at the same file')
    t.equal(await repo.usedBy(ownerId), 1000, 'counted once')
    t.equal(await uploadedEvents(ownerId), 1, 'published once')
  })

  t.test('admins are unlimited', async (t) => {
    const admin = ta.user(['admin'])
    const big = await makeImage({ width: 250, height: 250, noise: true })
    t.ok(big.length > QUOTA)
    const res = await upload(ta, admin, big)
    t.equal(res.statusCode, 201)
    const usage = (await ta.app.inject({ url: '/api/v1/files/usage', headers: admin.headers })).json()
    t.same(usage, { used: res.json().size, quota: null })
  })

  t.test('usage needs a token', async (t) => {
    t.equal((await ta.app.inject({ url: '/api/v1/files/usage' })).statusCode, 401)
  })
})
