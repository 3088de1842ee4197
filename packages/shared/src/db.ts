import { PrismaPg } from '@prisma/adapter-pg'

export interface DbSettings {
  DATABASE_URL: string
  DATABASE_SCHEMA: string
  DATABASE_POOL_SIZE: number
}

/**
 * The pg driver adapter every service's generated client runs on. The schema
 * is passed explicitly: the adapter ignores `?schema=` in the URL.
 */
export function pgAdapter (db: DbSettings): PrismaPg {
  return new PrismaPg(
    { connectionString: db.DATABASE_URL, max: db.DATABASE_POOL_SIZE, connectionTimeoutMillis: 2000, idleTimeoutMillis: 30_000 },
    { schema: db.DATABASE_SCHEMA }
  )
}
