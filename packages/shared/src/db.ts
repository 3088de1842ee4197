import { PrismaPg } from '@prisma/adapter-pg'
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
 * The pg driver adapter every service's generated client runs on. The schema
 * is passed explicitly: the adapter ignores `?schema=` in the URL.
 */
export function pgAdapter (db: DbSettings): ObservablePrismaPg {
  return new ObservablePrismaPg(
    {
      connectionString: db.DATABASE_URL,
      max: db.DATABASE_POOL_SIZE,
      connectionTimeoutMillis: 2000,
      idleTimeoutMillis: 30_000
    },
    { schema: db.DATABASE_SCHEMA }
  )
}
