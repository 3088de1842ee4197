// A freshly migrated database: every model of every service's schema works
// through that service's own generated Prisma client, under its own role,
// and no role can reach another service's schema.
import { randomBytes, randomUUID } from 'node:crypto'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import pg from 'pg'
import t from 'tap'
import { pgAdapter } from '@holo/shared'
import { services, type ServiceInfo } from '../src/services.js'
import { testDatabase } from '../src/testing.js'

interface RuntimeField { name: string, kind: string, type: string, dbName?: string | null }
interface RuntimeModel { fields: RuntimeField[], dbName?: string | null }
interface RuntimeDataModel {
  models: Record<string, RuntimeModel>
  enums: Record<string, { values: Array<{ name: string }> }>
}
interface Delegate {
  create: (a: { data: Record<string, unknown> }) => Promise<Record<string, unknown>>
  findFirst: (a: { where: Record<string, unknown> }) => Promise<Record<string, unknown> | null>
  deleteMany: (a: { where: Record<string, unknown> }) => Promise<{ count: number }>
}
type Client = Record<string, unknown> & { $disconnect: () => Promise<void>, _runtimeDataModel: RuntimeDataModel }

interface Column {
  column_name: string
  is_nullable: string
  column_default: string | null
  is_identity: string
  is_generated: string
  udt_name: string
}
interface ForeignKey { column: string, ref_table: string, ref_column: string }

const db = await testDatabase(t)
const admin = new pg.Client({ connectionString: db.adminUrl })
await admin.connect()
t.teardown(() => admin.end())

async function loadClient (s: ServiceInfo): Promise<Client> {
  // Loaded by path: the generated client is each service's own, not a dependency of infra.
  const mod = await import(pathToFileURL(path.join(s.dir, 'src/generated/prisma/client.ts')).href) as {
    PrismaClient: new (o: unknown) => Client
  }
  return new mod.PrismaClient({
    adapter: pgAdapter({ DATABASE_URL: db.urlFor(s.name), DATABASE_SCHEMA: s.schema, DATABASE_POOL_SIZE: 2 })
  })
}

async function tableMeta (
  schema: string,
  table: string
): Promise<{ columns: Column[], pk: string[], fks: ForeignKey[] }> {
  const columns = (await admin.query<Column>(
    `SELECT column_name, is_nullable, column_default, is_identity, is_generated, udt_name
       FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`, [schema, table])).rows
  const keys = await admin.query<{
    contype: string
    column: string
    ref_table: string | null
    ref_column: string | null
  }>(
    `SELECT con.contype, att.attname AS column, ref.relname AS ref_table, refatt.attname AS ref_column
       FROM pg_constraint con
       JOIN pg_class rel ON rel.oid = con.conrelid
       JOIN pg_namespace ns ON ns.oid = rel.relnamespace
       CROSS JOIN LATERAL unnest(con.conkey, coalesce(con.confkey, con.conkey)) AS k(col, refcol)
       JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.col
       LEFT JOIN pg_class ref ON ref.oid = con.confrelid
       LEFT JOIN pg_attribute refatt ON refatt.attrelid = con.confrelid AND refatt.attnum = k.refcol
      WHERE con.contype IN ('p', 'f') AND ns.nspname = $1 AND rel.relname = $2`, [schema, table])
  return {
    columns,
    pk: keys.rows.filter((k) => k.contype === 'p').map((k) => k.column),
    fks: keys.rows.filter((k) => k.contype === 'f').map((k) => ({
      column: k.column,
      ref_table: k.ref_table ?? '',
      ref_column: k.ref_column ?? ''
    }))
  }
}

/** Whether a table has a trigger that runs on DELETE (an append-only table such as an audit log). */
async function refusesDeletes (schema: string, table: string): Promise<boolean> {
  const r = await admin.query(
    'SELECT 1 FROM information_schema.triggers WHERE event_object_schema = $1 AND event_object_table = $2 ' +
      `AND event_manipulation = 'DELETE'`, [schema, table])
  return (r.rowCount ?? 0) > 0
}

/** A value Prisma accepts for a required column without a database default. */
function sampleValue (field: RuntimeField, column: Column, dm: RuntimeDataModel): unknown {
  const unique = randomBytes(5).toString('hex')
  if (column.udt_name.startsWith('_')) return []
  if (field.kind === 'enum') return dm.enums[field.type]?.values[0]?.name
  switch (field.type) {
    case 'String':
      if (column.udt_name === 'uuid') return randomUUID()
      return /email/i.test(field.name) ? `t${unique}@example.com` : `t${unique}`
    case 'Int': return 1
    case 'BigInt': return 1n
    case 'Float': case 'Decimal': return 1
    case 'Boolean': return false
    case 'DateTime': return new Date()
    case 'Json': return {}
    case 'Bytes': return new Uint8Array([1])
    default: return `t${unique}`
  }
}

for (const s of services) {
  t.test(`${s.name}: every model is created, read and deleted through its Prisma client`, async (t) => {
    const client = await loadClient(s)
    t.teardown(() => client.$disconnect())
    const dm = client._runtimeDataModel
    const models = Object.entries(dm.models).map(([name, m]) => ({ name, table: m.dbName ?? name, model: m }))
    t.ok(models.length > 0, `${s.name} has models`)

    const tables = (await admin.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ' +
        `AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_%'`, [s.schema])).rows.map((r) => r.table_name)
    t.same(tables.sort(), models.map((m) => m.table).sort(), 'the migrations create exactly the tables of the models')

    const metas = new Map(await Promise.all(models.map(async (m) =>
      [m.table, await tableMeta(s.schema, m.table)] as const)))
    const created = new Map<string, Record<string, unknown>>()
    const order: typeof models = []
    const pending = [...models]
    while (pending.length > 0) {
      const i = pending.findIndex((m) => (metas.get(m.table)?.fks ?? []).every((fk) => {
        const col = metas.get(m.table)?.columns.find((c) => c.column_name === fk.column)
        return fk.ref_table === m.table || col?.is_nullable === 'YES' || created.has(fk.ref_table)
      }))
      if (i < 0) { t.fail(`no creatable model among ${pending.map((m) => m.name).join(', ')}`); return }
      const [m] = pending.splice(i, 1) as [typeof models[number]]
      const meta = metas.get(m.table) as Awaited<ReturnType<typeof tableMeta>>
      const fieldOf = (column: string): RuntimeField | undefined =>
        m.model.fields.find((f) => f.kind !== 'object' && (f.dbName ?? f.name) === column)
      const data: Record<string, unknown> = {}
      for (const column of meta.columns) {
        const field = fieldOf(column.column_name)
        if (field === undefined) continue
        const fk = meta.fks.find((f) => f.column === column.column_name)
        const required = column.is_nullable === 'NO' && column.column_default === null &&
          column.is_identity === 'NO' && column.is_generated === 'NEVER'
        if (fk !== undefined && fk.ref_table !== m.table && column.is_nullable === 'NO') {
          const parent = created.get(fk.ref_table) as Record<string, unknown>
          const parentModel = models.find((x) => x.table === fk.ref_table)
          const refField = parentModel?.model.fields.find((f) => (f.dbName ?? f.name) === fk.ref_column)
          data[field.name] = parent[refField?.name ?? fk.ref_column]
        } else if (required && fk === undefined) {
          data[field.name] = sampleValue(field, column, dm)
        }
      }
      const delegate = client[m.name.charAt(0).toLowerCase() + m.name.slice(1)] as Delegate
      // A row whose key is all parent keys may already exist: a trigger made it with its parent (card_like_counts).
      const key = meta.pk.map((c) => fieldOf(c)?.name)
      const made = key.every((f) => f !== undefined && data[f] !== undefined)
        ? await delegate.findFirst({ where: Object.fromEntries(key.map((f) => [f as string, data[f as string]])) })
        : null
      const row = made ?? await delegate.create({ data })
      created.set(m.table, row)
      order.push(m)
      const where = Object.fromEntries(meta.pk.map((c) => {
        const f = fieldOf(c) as RuntimeField
        return [f.name, row[f.name]]
      }))
      t.ok(meta.pk.length > 0, `${m.name} has a primary key`)
      const read = await delegate.findFirst({ where })
      t.same(read, row, `${m.name}: created and read back`)
      // This very row (by its key): a table may hold rows its migration seeded (auth.roles).
      const inSchema = await admin.query(
        `SELECT count(*)::int AS n FROM ${pg.escapeIdentifier(s.schema)}.${pg.escapeIdentifier(m.table)} WHERE ` +
          meta.pk.map((c, i) => `${pg.escapeIdentifier(c)} = $${i + 1}`).join(' AND '),
        meta.pk.map((c) => row[(fieldOf(c) as RuntimeField).name])
      )
      t.equal(inSchema.rows[0].n, 1, `${m.name}: the row is in ${s.schema}.${m.table}`)
    }
    for (const m of order.reverse()) {
      const meta = metas.get(m.table) as Awaited<ReturnType<typeof tableMeta>>
      const row = created.get(m.table) as Record<string, unknown>
      const where = Object.fromEntries(meta.pk.map((c) => {
        const f = m.model.fields.find((x) => x.kind !== 'object' && (x.dbName ?? x.name) === c) as RuntimeField
        return [f.name, row[f.name]]
      }))
      const delegate = client[m.name.charAt(0).toLowerCase() + m.name.slice(1)] as Delegate
      const res = await delegate.deleteMany({ where }).catch((err: Error) => err)
      if (res instanceof Error && await refusesDeletes(s.schema, m.table)) {
        t.match(res.message, /P0001/, `${m.name}: append-only, its trigger refuses the delete`)
      } else {
        t.same(res, { count: 1 }, `${m.name}: deleted`)
      }
    }
  })
}

t.test('each role is confined to its own schema', async (t) => {
  for (const s of services) {
    const c = new pg.Client({ connectionString: db.urlFor(s.name) })
    await c.connect()
    t.teardown(() => c.end())
    const who = await c.query<{ current_user: string, search_path: string }>(
      'SELECT current_user, current_setting(\'search_path\') AS search_path'
    )
    t.equal(who.rows[0]?.current_user, s.role)
    t.equal(who.rows[0]?.search_path, s.schema, `${s.role} defaults to its own schema`)
    const own = await admin.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 LIMIT 1',
      [s.schema]
    )
    const ownTable = own.rows[0]?.table_name as string
    const r = await c.query(`SELECT count(*) FROM ${pg.escapeIdentifier(s.schema)}.${pg.escapeIdentifier(ownTable)}`)
    t.equal(r.rowCount, 1, `${s.role} reads its own ${s.schema}.${ownTable}`)

    for (const other of services.filter((o) => o !== s)) {
      const table = (await admin.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables ' +
          'WHERE table_schema = $1 AND table_name NOT LIKE \'\\_%\' ORDER BY table_name LIMIT 1',
        [other.schema]
      )).rows[0]?.table_name as string
      const read = await c.query(`SELECT * FROM ${pg.escapeIdentifier(other.schema)}.${pg.escapeIdentifier(table)}`)
        .then(() => null, (e: { code?: string }) => e)
      t.equal(read?.code, '42501', `${s.role} is denied SELECT on ${other.schema}.${table}`)
      const create = await c.query(`CREATE TABLE ${pg.escapeIdentifier(other.schema)}.intruder (id int)`)
        .then(() => null, (e: { code?: string }) => e)
      t.equal(create?.code, '42501', `${s.role} cannot create tables in ${other.schema}`)
      const become = await c.query(`SET ROLE ${pg.escapeIdentifier(other.role)}`)
        .then(() => null, (e: { code?: string }) => e)
      t.equal(become?.code, '42501', `${s.role} cannot become ${other.role}`)
    }
    const pub = await c.query('CREATE TABLE public.intruder (id int)').then(() => null, (e: { code?: string }) => e)
    t.equal(pub?.code, '42501', `${s.role} cannot create tables in public`)
  }
})
