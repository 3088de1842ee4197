// `pnpm db:migrate` (infra/src/db.ts) records migrations exactly as Prisma
// does, applies nothing twice and refuses an applied migration that changed.
import { createHash } from 'node:crypto'
import { appendFile, cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import t from 'tap'
import { migrateService, setupDatabase } from '../src/db.js'
import { serviceInfo, services, type ServiceName } from '../src/services.js'
import { tempDir, testDatabase } from '../src/testing.js'

interface MigrationRow {
  migration_name: string
  checksum: string
  finished_at: Date | null
  rolled_back_at: Date | null
  applied_steps_count: number
  logs: string | null
}

const db = await testDatabase(t)
const admin = new pg.Client({ connectionString: db.adminUrl })
await admin.connect()
t.teardown(() => admin.end())

const migrationNames = async (dir: string): Promise<string[]> =>
  (await readdir(path.join(dir, 'prisma/migrations'), { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()

const rowsOf = async (schema: string): Promise<MigrationRow[]> => (await admin.query<MigrationRow>(
  'SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count, logs ' +
    `FROM ${pg.escapeIdentifier(schema)}."_prisma_migrations" ORDER BY migration_name`)).rows

/** A service whose migrations folder is a copy we may change. */
async function copyOf (
  t: Parameters<typeof tempDir>[0],
  name: ServiceName
): Promise<ReturnType<typeof serviceInfo>> {
  const s = serviceInfo(name)
  const dir = await tempDir(t, `holo-mig-${name}-`)
  await cp(path.join(s.dir, 'prisma/migrations'), path.join(dir, 'prisma/migrations'), { recursive: true })
  return { ...s, dir }
}

t.test('each applied migration has a row as Prisma writes it', async (t) => {
  for (const s of services) {
    const names = await migrationNames(s.dir)
    t.ok(names.length > 0, `${s.name} has migrations`)
    const rows = await rowsOf(s.schema)
    t.same(rows.map((r) => r.migration_name), names, `${s.name}: one row per migration`)
    for (const r of rows) {
      const sql = await readFile(path.join(s.dir, 'prisma/migrations', r.migration_name, 'migration.sql'))
      t.equal(
        r.checksum,
        createHash('sha256').update(sql).digest('hex'),
        `${s.name}/${r.migration_name}: sha256 of migration.sql`
      )
      t.ok(r.finished_at instanceof Date, `${r.migration_name}: finished_at set`)
      t.equal(r.rolled_back_at, null)
      t.equal(r.applied_steps_count, 1)
    }
    const owner = await admin.query<{ tableowner: string }>(
      'SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = $1',
      [s.schema]
    )
    t.same(owner.rows.map((r) => r.tableowner), [s.role], `${s.name}: every table is owned by ${s.role}`)
  }
})

t.test('migrating again applies nothing', async (t) => {
  const before = await Promise.all(services.map((s) => rowsOf(s.schema)))
  const results = await setupDatabase(db.adminUrl)
  for (const [i, s] of services.entries()) {
    const r = results.find((x) => x.service === s.name)
    t.same(r?.applied, [], `${s.name}: nothing applied`)
    t.same(r?.skipped, await migrationNames(s.dir), `${s.name}: all already applied`)
    t.same(await rowsOf(s.schema), before[i], `${s.name}: rows unchanged`)
  }
})

t.test('an applied migration that was edited is refused', async (t) => {
  const card = await copyOf(t, 'card')
  const first = (await migrationNames(card.dir))[0] as string
  await appendFile(
    path.join(card.dir, 'prisma/migrations', first, 'migration.sql'),
    '\n-- edited after it was applied\n'
  )
  await t.rejects(migrateService(card, db.urlFor('card')), /card: migration .* was edited after it was applied/)
})

t.test('a new migration is applied once as the service role; a failing one leaves no trace', async (t) => {
  const card = await copyOf(t, 'card')
  const name = '29991231000000_holo_test_probe'
  await mkdir(path.join(card.dir, 'prisma/migrations', name))
  await writeFile(
    path.join(card.dir, 'prisma/migrations', name, 'migration.sql'),
    'CREATE TABLE "holo_test_probe" (id integer PRIMARY KEY);\n'
  )
  const r = await migrateService(card, db.urlFor('card'))
  t.same(r.applied, [name])
  const owner = await admin.query(
    'SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = $2',
    ['card', 'holo_test_probe']
  )
  t.same(owner.rows, [{ tableowner: 'holo_card' }], 'created in card, owned by holo_card')
  t.same((await migrateService(card, db.urlFor('card'))).applied, [], 'not applied twice')

  const bad = '29991231000001_holo_test_broken'
  await mkdir(path.join(card.dir, 'prisma/migrations', bad))
  await writeFile(
    path.join(card.dir, 'prisma/migrations', bad, 'migration.sql'),
    'CREATE TABLE "holo_test_half" (id integer);\nSELECT * FROM auth.users;\n'
  )
  await t.rejects(migrateService(card, db.urlFor('card')), /holo_test_broken failed: permission denied/)
  t.notOk((await rowsOf('card')).some((row) => row.migration_name === bad), 'no row for the failed migration')
  const half = await admin.query(
    'SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2',
    ['card', 'holo_test_half']
  )
  t.equal(half.rowCount, 0, 'its first statement was rolled back')
})
