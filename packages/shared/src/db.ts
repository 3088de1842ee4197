import { PrismaPg } from '@prisma/adapter-pg'
import { preparedQuery, statementName } from '@holo/events'
import pg from 'pg'

export interface DbSettings {
  DATABASE_URL: string
  DATABASE_SCHEMA: string
  DATABASE_POOL_SIZE: number
}

/**
 * The Prisma pg adapter over a pool it is handed, kept in reach: metrics report its usage
 * (`observePgPool(app.metrics, adapter)`), and the few hottest statements, raw SQL that gains nothing from
 * Prisma's query path, are sent to it directly (a card like: `directQuery(adapter.pool, ...)`). Prisma ends the
 * pool when it disconnects.
 */
export class ObservablePrismaPg extends PrismaPg {
  constructor (readonly pool: pg.Pool, options: NonNullable<ConstructorParameters<typeof PrismaPg>[1]>) {
    super(pool, { ...options, disposeExternalPool: true })
  }
}

/**
 * A write (INSERT, UPDATE, DELETE, or a WITH with a part that is one: a like whose first part finds the card, an
 * outbox insert whose first part unpacks its rows): its plan does not depend on its values, so it can be
 * prepared once per connection. Reads stay unnamed: a list or a search is planned for its values.
 */
const WRITE = /^\s*(?:INSERT|UPDATE|DELETE)\b|^\s*WITH\b[\s\S]*?\bAS\s*(?:(?:NOT\s+)?MATERIALIZED\s*)?\(\s*(?:INSERT|UPDATE|DELETE)\b/i
export const isWriteStatement = (sql: string): boolean => WRITE.test(sql)

/**
 * The pg driver adapter every service's generated client runs on. The schema
 * is passed explicitly: the adapter ignores `?schema=` in the URL. Writes run
 * as named prepared statements (statementName): each connection parses and
 * plans them once; a like's statement planned for every call cost more CPU
 * than running it.
 */
export function pgAdapter (db: DbSettings): ObservablePrismaPg {
  return new ObservablePrismaPg(
    new pg.Pool({
      connectionString: db.DATABASE_URL,
      max: db.DATABASE_POOL_SIZE,
      connectionTimeoutMillis: 2000,
      idleTimeoutMillis: 30_000
    }),
    {
      schema: db.DATABASE_SCHEMA,
      // Typed as a string, passed to pg as is: undefined runs the statement unnamed.
      statementNameGenerator: (query) => (isWriteStatement(query.sql) ? statementName(query.sql) : undefined) as string
    }
  )
}

/**
 * Disconnects Prisma and makes sure its adapter's pool is ended: Prisma ends it only when it had connected, and
 * direct statements may have used the pool before Prisma ever did.
 */
export async function disconnectPrisma (prisma: { $disconnect: () => Promise<void> }, adapter: ObservablePrismaPg): Promise<void> {
  await prisma.$disconnect()
  if (!adapter.pool.ended) await adapter.pool.end()
}

/** SQLSTATE classes of an unreachable or unavailable server: connection exceptions, insufficient resources, operator intervention. */
const UNAVAILABLE_SQLSTATE = /^(?:08|53|57P)/
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ENOENT'])
const UNREACHABLE = /timeout exceeded when trying to connect|Connection terminated/i

/**
 * Runs a prepared statement on the pool under Prisma (`adapter.pool`), for the few hottest raw statements.
 * Prisma would tag a failure to reach PostgreSQL as its adapter's error; here such a failure is tagged
 * `dependency: 'postgres'` instead, so it is still a 503 naming the database, while a statement's own error
 * (a constraint, a bad value) stays what it is.
 */
export async function directQuery<R extends pg.QueryResultRow> (
  pool: pg.Pool, text: string, values: readonly unknown[]
): Promise<pg.QueryResult<R>> {
  try {
    return await preparedQuery<R>(pool, text, values)
  } catch (err) {
    const e = err as { code?: unknown, message?: unknown }
    const code = typeof e.code === 'string' ? e.code : ''
    if (UNAVAILABLE_SQLSTATE.test(code) || NETWORK_CODES.has(code) || UNREACHABLE.test(String(e.message))) {
      Object.assign(err as object, { dependency: 'postgres' })
    }
    throw err
  }
}
