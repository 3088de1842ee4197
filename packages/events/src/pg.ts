// PostgreSQL plumbing shared by the relay, effect-once and the consuming services.
import pg from 'pg'

/**
 * Runs `fn` in a transaction of its own. The COMMIT is checked: when a statement failed and its error was
 * caught, PostgreSQL answers COMMIT with a ROLLBACK, and this throws instead of reporting success. The
 * client is destroyed when even the rollback fails.
 */
export async function inTransaction<T> (pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let broken = false
  try {
    await client.query('BEGIN')
    const result = await fn(client)
    const res = await client.query('COMMIT')
    if (res.command !== 'COMMIT') {
      throw new Error(`the transaction was rolled back at COMMIT (${res.command}): one of its statements failed`)
    }
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch(() => { broken = true })
    throw err
  } finally {
    client.release(broken)
  }
}

/**
 * A consuming service's own pool for its effects (each runs in one of its transactions, with its
 * applied_events record), on the service's schema. An idle connection that breaks (a PostgreSQL
 * restart) does not crash the process; the next query reconnects.
 */
export function consumerPool (o: { url: string, schema: string, max: number }): pg.Pool {
  const pool = new pg.Pool({
    connectionString: o.url,
    max: o.max,
    connectionTimeoutMillis: 2000,
    idleTimeoutMillis: 30_000,
    // The role's default search_path says the same; explicit, as for Prisma's adapter.
    options: `-c search_path=${o.schema}`
  })
  pool.on('error', () => {})
  return pool
}
