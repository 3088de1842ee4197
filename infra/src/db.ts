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

/** Creates the database when missing, then its roles, schemas and grants (idempotent). */
export async function bootstrapDatabase (adminUrl: string, passwords: Partial<Record<string, string>> = {}): Promise<void> {
  const target = new URL(adminUrl)
  const dbName = decodeURIComponent(target.pathname.slice(1))
  const maintenance = new URL(adminUrl)
  maintenance.pathname = '/postgres'
  await withClient(maintenance.toString(), async (c) => {
    const found = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName])
    if (found.rowCount === 0) await c.query(`CREATE DATABASE ${pg.escapeIdentifier(dbName)}`)
  })
  const sql = await readFile(path.join(repoRoot, 'infra/db/bootstrap.sql'), 'utf8')
  await withClient(adminUrl, async (c) => {
    // Roles are cluster-wide: serialise concurrent bootstraps (parallel test files).
    await c.query('SELECT pg_advisory_lock(724001)')
    try {
      await c.query(sql)
      for (const s of services) {
        const pw = passwords[s.name]
        if (pw !== undefined && pw !== '') await c.query(`ALTER ROLE ${pg.escapeIdentifier(s.role)} PASSWORD ${pg.escapeLiteral(pw)}`)
      }
    } finally {
      await c.query('SELECT pg_advisory_unlock(724001)')
    }
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
          if (row.finished_at === null) throw new Error(`${service.name}: migration ${name} failed earlier; resolve it before migrating`)
          if (row.checksum !== checksum) throw new Error(`${service.name}: migration ${name} was edited after it was applied`)
          skipped.push(name)
          continue
        }
        const id = randomUUID()
        await c.query('BEGIN')
        try {
          await c.query('INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())', [id, checksum, name])
          await c.query(sql)
          await c.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id])
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
export async function setupDatabase (adminUrl: string, passwords: Partial<Record<string, string>> = {}): Promise<MigrationResult[]> {
  await bootstrapDatabase(adminUrl, passwords)
  const results: MigrationResult[] = []
  for (const s of services) results.push(await migrateService(s, urlForRole(adminUrl, s.role, passwords[s.name])))
  return results
}

export { repoRoot }
