import { PrismaPg } from '@prisma/adapter-pg'
import { statementName } from '@holo/events'
import type { PoolStats } from './observability/instruments.js'

export interface DbSettings {
  DATABASE_URL: string
  DATABASE_SCHEMA: string
  DATABASE_POOL_SIZE: number
}

/**
 * The Prisma pg adapter, keeping a handle on the pool Prisma creates when it
 * connects, so metrics can report pool usage (`observePgPool(app.metrics, adapter)`).
 */
export class ObservablePrismaPg extends PrismaPg {
  #pool: PoolStats | undefined

  /** The live pg pool; undefined until Prisma's first connection. */
  get pool (): PoolStats | undefined { return this.#pool }

  override async connect (): ReturnType<PrismaPg['connect']> {
    const adapter = await super.connect()
    this.#pool = adapter.underlyingDriver()
    return adapter
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
    {
      connectionString: db.DATABASE_URL,
      max: db.DATABASE_POOL_SIZE,
      connectionTimeoutMillis: 2000,
      idleTimeoutMillis: 30_000
    },
    {
      schema: db.DATABASE_SCHEMA,
      // Typed as a string, passed to pg as is: undefined runs the statement unnamed.
      statementNameGenerator: (query) => (isWriteStatement(query.sql) ? statementName(query.sql) : undefined) as string
    }
  )
}
