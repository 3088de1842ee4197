import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { utimes, writeFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { FilesRepository } from '../src/modules/files/files.repository.js'
import { cleanOrphans } from '../src/modules/files/orphans.js'
import { buildTestApp, leftovers, makeImage, upload } from './helper.js'

const serviceDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

t.test('the orphan cleaner', async (t) => {
  const ta = await buildTestApp(t)
  const alice = ta.user()
  const repo = new FilesRepository(ta.deps.prisma, ta.config.DATABASE_SCHEMA)
  const kept = (await upload(ta, alice, await makeImage({ seed: 1 }))).json()
  await ta.app.inject({ url: `/api/v1/files/${kept.id}/thumbnail?w=64` })
  const lost = (await upload(ta, alice, await makeImage({ seed: 2 }))).json()
  const lostKey = (await ta.deps.prisma.file.findUniqueOrThrow({ where: { id: lost.id } })).storageKey
  await ta.deps.store.remove([lostKey])
  const strayKey = `files/${randomUUID()}/original`
  await ta.deps.store.putBuffer(strayKey, Buffer.from('left by a crashed upload'), 'image/png')
  await ta.deps.store.putBuffer('not-ours.txt', Buffer.from('x'), 'text/plain')
  const staleTemp = path.join(ta.tempDir, 'upload-dead.in')
  const freshTemp = path.join(ta.tempDir, 'upload-live.in')
  await writeFile(staleTemp, 'half an upload')
  await writeFile(freshTemp, 'an upload in flight')
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000)
  await utimes(staleTemp, twoHoursAgo, twoHoursAgo)
  const usedBefore = await repo.usedBy(alice.id)

  t.test('within the grace period, new objects are left alone', async (t) => {
    const report = await cleanOrphans({
      repo,
      store: ta.deps.store,
      tempDir: ta.tempDir,
      dryRun: true,
      graceMs: 3600_000
    })
    t.same(report.objectsWithoutRow, [])
    t.same(report.rowsWithoutObject, [{ id: lost.id, storageKey: lostKey }])
    t.same(report.staleTempFiles, [staleTemp])
  })

  // Everything older than one second from now counts as old.
  const later = Date.now() + 1000
  t.test('--dry-run reports and removes nothing', async (t) => {
    const before = await leftovers(ta)
    const report = await cleanOrphans({
      repo,
      store: ta.deps.store,
      tempDir: ta.tempDir,
      dryRun: true,
      graceMs: 0,
      now: later
    })
    t.same(report.objectsWithoutRow.sort(), ['not-ours.txt', strayKey].sort())
    t.same(report.rowsWithoutObject.map((r) => r.id), [lost.id])
    t.same(report.staleTempFiles.sort(), [freshTemp, staleTemp].sort())
    t.same(await leftovers(ta), before)
  })

  t.test('the CLI runs with the service env', async (t) => {
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--conditions=holo-source', '--import', 'tsx', 'src/cli/clean-orphans.ts', '--dry-run', '--grace-minutes=60'
    ], {
      cwd: serviceDir,
      env: {
        ...process.env,
        DATABASE_URL: ta.db.urlFor('file'),
        S3_ENDPOINT: ta.s3.endpoint,
        FILE_TEMP_DIR: ta.tempDir,
        LOG_LEVEL: 'silent'
      }
    })
    const report = JSON.parse(stdout)
    t.equal(report.dryRun, true)
    t.same(report.rowsWithoutObject.map((r: { id: string }) => r.id), [lost.id])
    t.same(report.staleTempFiles, [staleTemp])
  })

  t.test('a real run removes orphans and keeps everything else', async (t) => {
    await cleanOrphans({ repo, store: ta.deps.store, tempDir: ta.tempDir, dryRun: false, graceMs: 3600_000 })
    t.same(await readdir(ta.tempDir), ['upload-live.in'], 'only the stale temp file went')
    t.equal((await ta.app.inject({ url: `/api/v1/files/${lost.id}` })).statusCode, 404, 'the row without object went')
    t.equal(await repo.usedBy(alice.id), usedBefore - lost.size, 'its bytes are given back')
    await cleanOrphans({ repo, store: ta.deps.store, tempDir: ta.tempDir, dryRun: false, graceMs: 0, now: later })
    const left = await leftovers(ta)
    t.equal(left.rows, 1)
    const keptKey = (await ta.deps.prisma.file.findUniqueOrThrow({ where: { id: kept.id } })).storageKey
    t.same(
      left.objects.sort(),
      [keptKey, keptKey.replace(/original$/, 'thumbnail-64.webp')].sort(),
      'the live file and its thumbnail stay'
    )
    t.equal((await ta.app.inject({ url: kept.url })).statusCode, 200)
    const again = await cleanOrphans({
      repo,
      store: ta.deps.store,
      tempDir: ta.tempDir,
      dryRun: false,
      graceMs: 0,
      now: later
    })
    t.same(again, { dryRun: false, objectsWithoutRow: [], rowsWithoutObject: [], staleTempFiles: [] }, 'idempotent')
  })
})
