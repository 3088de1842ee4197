import { createHash, randomUUID } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import { repoRoot, services, urlForRole, type ServiceInfo } from './services.js'

async function withClient<T> (url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try { return await fn(client) } finally { await client.end() }
}

const maintenanceUrl = (adminUrl: string): string => {
  const u = new URL(adminUrl)
  u.pathname = '/postgres'
  return u.toString()
}

/**
 * Runs `fn` holding a cluster-wide lock. Advisory locks are per database, so
 * the lock is taken in the maintenance database every caller shares: roles are
 * cluster-wide and parallel bootstraps would otherwise collide on them.
 */
export async function withClusterLock<T> (adminUrl: string, fn: (maintenance: pg.Client) => Promise<T>): Promise<T> {
  return await withClient(maintenanceUrl(adminUrl), async (c) => {
    await c.query('SELECT pg_advisory_lock(724001)')
    try { return await fn(c) } finally { await c.query('SELECT pg_advisory_unlock(724001)') }
  })
}

async function bootstrapLocked (
  maintenance: pg.Client,
  adminUrl: string,
  passwords: Partial<Record<string, string>>
): Promise<void> {
  const dbName = decodeURIComponent(new URL(adminUrl).pathname.slice(1))
  const found = await maintenance.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName])
  if (found.rowCount === 0) await maintenance.query(`CREATE DATABASE ${pg.escapeIdentifier(dbName)}`)
  const sql = await readFile(path.join(repoRoot, 'infra/db/bootstrap.sql'), 'utf8')
  await withClient(adminUrl, async (c) => {
    await c.query(sql)
    for (const s of services) {
      const pw = passwords[s.name]
      if (pw !== undefined && pw !== '') {
        await c.query(`ALTER ROLE ${pg.escapeIdentifier(s.role)} PASSWORD ${pg.escapeLiteral(pw)}`)
      }
    }
  })
}

/** Creates the database when missing, then its roles, schemas and grants (idempotent). */
export async function bootstrapDatabase (
  adminUrl: string,
  passwords: Partial<Record<string, string>> = {}
): Promise<void> {
  await withClusterLock(adminUrl, (m) => bootstrapLocked(m, adminUrl, passwords))
}

/** sha256 over the bootstrap and every migration: names a template database that is up to date. */
export async function schemaFingerprint (): Promise<string> {
  const hash = createHash('sha256').update(await readFile(path.join(repoRoot, 'infra/db/bootstrap.sql')))
  for (const s of services) {
    const dir = path.join(s.dir, 'prisma/migrations')
    const names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort()
    for (const name of names) {
      hash.update(`${s.name}/${name}\n`).update(await readFile(path.join(dir, name, 'migration.sql')))
    }
  }
  return hash.digest('hex').slice(0, 12)
}

/**
 * Creates database `target` as a copy of a bootstrapped and fully migrated
 * template (built once per schema fingerprint): far faster than migrating
 * each test database, and the same result.
 */
export async function createMigratedDatabase (adminUrl: string, target: string): Promise<void> {
  const template = `holo_tpl_${await schemaFingerprint()}`
  await withClusterLock(adminUrl, async (m) => {
    const found = await m.query('SELECT 1 FROM pg_database WHERE datname = $1', [template])
    if (found.rowCount === 0) {
      const building = `${template}_building`
      await m.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(building)} WITH (FORCE)`)
      const buildUrl = new URL(adminUrl)
      buildUrl.pathname = `/${building}`
      await bootstrapLocked(m, buildUrl.toString(), {})
      for (const s of services) await migrateService(s, urlForRole(buildUrl.toString(), s.role))
      // Renamed only once complete: a half-built template is never used.
      await m.query(`ALTER DATABASE ${pg.escapeIdentifier(building)} RENAME TO ${pg.escapeIdentifier(template)}`)
      const stale = await m.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE datname LIKE 'holo\\_tpl\\_%' AND datname <> $1",
        [template]
      )
      for (const r of stale.rows) {
        await m.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(r.datname)} WITH (FORCE)`)
      }
    }
    await m.query(`CREATE DATABASE ${pg.escapeIdentifier(target)} TEMPLATE ${pg.escapeIdentifier(template)}`)
  })
}

export async function dropDatabase (adminUrl: string): Promise<void> {
  const target = new URL(adminUrl)
  const dbName = decodeURIComponent(target.pathname.slice(1))
  target.pathname = '/postgres'
  await withClient(target.toString(), async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(dbName)} WITH (FORCE)`)
  })
}

/** The same table `prisma migrate` keeps, so `prisma migrate status`/`deploy` accept our rows. */
const MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`

export interface MigrationResult { service: string, applied: string[], skipped: string[] }

/**
 * Applies a service's prisma/migrations/<name>/migration.sql in name order as
 * the service's own role (so it owns its tables), each in one transaction, and
 * records it exactly as Prisma does (sha256 checksum of the file).
 */
export async function migrateService (service: ServiceInfo, url: string): Promise<MigrationResult> {
  const dir = path.join(service.dir, 'prisma/migrations')
  const names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort()
  return await withClient(url, async (c) => {
    await c.query(`SET search_path TO ${pg.escapeIdentifier(service.schema)}`)
    await c.query('SELECT pg_advisory_lock(72707)')
    try {
      await c.query(MIGRATIONS_TABLE)
      const done = await c.query<{ migration_name: string, checksum: string, finished_at: Date | null }>(
        'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL')
      const byName = new Map(done.rows.map((r) => [r.migration_name, r]))
      const applied: string[] = []
      const skipped: string[] = []
      for (const name of names) {
        const sql = await readFile(path.join(dir, name, 'migration.sql'), 'utf8')
        const checksum = createHash('sha256').update(sql).digest('hex')
        const row = byName.get(name)
        if (row !== undefined) {
          if (row.finished_at === null) {
            throw new Error(`${service.name}: migration ${name} failed earlier; resolve it before migrating`)
          }
          if (row.checksum !== checksum) {
            throw new Error(`${service.name}: migration ${name} was edited after it was applied`)
          }
          skipped.push(name)
          continue
        }
        const id = randomUUID()
        await c.query('BEGIN')
        try {
          await c.query(
            'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())',
            [id, checksum, name]
          )
          await c.query(sql)
          await c.query(
            'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1',
            [id]
          )
          await c.query('COMMIT')
        } catch (err) {
          await c.query('ROLLBACK')
          throw new Error(`${service.name}: migration ${name} failed: ${(err as Error).message}`)
        }
        applied.push(name)
      }
      return { service: service.name, applied, skipped }
    } finally {
      await c.query('SELECT pg_advisory_unlock(72707)')
    }
  })
}

/** Bootstraps and migrates every service on the database of `adminUrl`. */
export async function setupDatabase (
  adminUrl: string,
  passwords: Partial<Record<string, string>> = {}
): Promise<MigrationResult[]> {
  await bootstrapDatabase(adminUrl, passwords)
  const results: MigrationResult[] = []
  for (const s of services) results.push(await migrateService(s, urlForRole(adminUrl, s.role, passwords[s.name])))
  return results
}

export { repoRoot }
