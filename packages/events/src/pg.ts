// PostgreSQL plumbing shared by the relay, effect-once and the consuming services.
import pg from 'pg'

/** Statement text → the name it is prepared under, in this process (one name per text, as pg requires). */
const statementNames = new Map<string, string>()
/** Beyond this many distinct texts, statements run unnamed: code builds a bounded set, this is a guard. */
const MAX_NAMED_STATEMENTS = 2000

/**
 * The name a statement's text is prepared under (`holo_<n>`, stable for the process), or undefined once the
 * guard's count of texts is reached. A named statement is parsed and planned once per connection; PostgreSQL
 * then only binds and runs it. For the small fixed writes of consumers and producers, planning costs about as
 * much as running them (and, on a busy machine, a relation size lookup per table and index).
 */
export function statementName (text: string): string | undefined {
  let name = statementNames.get(text)
  if (name === undefined && statementNames.size < MAX_NAMED_STATEMENTS) {
    name = `holo_${statementNames.size}`
    statementNames.set(text, name)
  }
  return name
}

/**
 * Runs `text` as a named prepared statement (see statementName). For fixed statements whose plan does not
 * depend on their values (writes and reads by key); a search whose best plan depends on its values stays
 * unnamed, so PostgreSQL plans it for each call.
 */
export async function preparedQuery<R extends pg.QueryResultRow = pg.QueryResultRow> (
  client: pg.ClientBase | pg.Pool, text: string, values: readonly unknown[] = []
): Promise<pg.QueryResult<R>> {
  return await client.query<R>({ name: statementName(text), text, values: [...values] })
}

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
