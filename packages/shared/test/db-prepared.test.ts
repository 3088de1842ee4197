// Writes through the Prisma adapter run as named prepared statements (parsed and planned once per connection);
// reads stay unnamed, so a search is planned for its own values.
import t from 'tap'
import net from 'node:net'
import pg from 'pg'
import { dependencyOf, directQuery, disconnectPrisma, isWriteStatement, pgAdapter } from '../src/index.js'

const PG_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'

t.test('which statements count as writes', async (t) => {
  for (const sql of [
    'INSERT INTO likes (user_id, card_id) VALUES ($1, $2)',
    '  update "auth"."sessions" SET revoked_at = now() WHERE id = $1',
    'DELETE FROM outbox WHERE id = $1',
    'WITH changed AS (\n INSERT INTO likes VALUES ($1) RETURNING card_id) SELECT * FROM changed',
    'WITH c AS MATERIALIZED (UPDATE cards SET title = $1 RETURNING id) SELECT id FROM c',
    'WITH card AS (SELECT id FROM cards WHERE id = $1), changed AS (\n  INSERT INTO likes SELECT $2, id FROM card) SELECT 1',
    'WITH input AS (SELECT * FROM unnest($1::text[]) i), bumped AS NOT MATERIALIZED (UPDATE s SET n = n + 1) SELECT 1'
  ]) t.ok(isWriteStatement(sql), sql)
  for (const sql of [
    'SELECT id FROM cards WHERE search @@ to_tsquery($1) ORDER BY created_at DESC LIMIT $2',
    'WITH page AS (SELECT id FROM cards LIMIT $1) SELECT * FROM page',
    'WITH g AS (SELECT card_id FROM reports), c AS (SELECT id FROM cards) SELECT * FROM g JOIN c ON c.id = g.card_id',
    'SELECT 1 -- INSERT INTO x',
    'COPY cards TO STDOUT'
  ]) t.notOk(isWriteStatement(sql), sql)
})

t.test('the adapter prepares writes once per connection and leaves reads unnamed', async (t) => {
  const adapter = pgAdapter({ DATABASE_URL: PG_URL, DATABASE_SCHEMA: 'public', DATABASE_POOL_SIZE: 1 })
  const driver = await adapter.connect()
  t.teardown(() => driver.dispose())
  const table = `prepared_test_${process.pid}`
  const pool = driver.underlyingDriver()
  await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, n int NOT NULL)`)
  t.teardown(() => pool.query(`DROP TABLE IF EXISTS ${table}`))
  const run = async (sql: string, args: unknown[]): Promise<unknown[][]> =>
    (await driver.queryRaw({ sql, args, argTypes: args.map(() => ({ scalarType: 'int', arity: 'scalar' })) } as never)).rows

  const upsert = `INSERT INTO ${table} (id, n) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET n = ${table}.n + EXCLUDED.n RETURNING n`
  t.same(await run(upsert, [1, 5]), [[5]])
  t.same(await run(upsert, [1, 2]), [[7]], 'the second call runs the prepared statement with its own values')
  await run(`SELECT n FROM ${table} WHERE id = $1`, [1])

  // One connection: the session's prepared statements are the ones the calls above made.
  const prepared = (await run('SELECT statement FROM pg_prepared_statements', [])).map((r) => String(r[0]))
  t.same(prepared, [upsert], 'only the write is prepared, once')
})

t.test('directQuery: PostgreSQL out of reach is its fault (503), a statement\'s own error is not', async (t) => {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 1 })
  t.teardown(async () => { await pool.end() })
  t.same((await directQuery<{ n: number }>(pool, 'SELECT $1::int + 1 AS n', [1])).rows, [{ n: 2 }])
  const own = await directQuery(pool, 'SELECT 1 / $1::int', [0]).then(() => undefined, (e: unknown) => e)
  t.equal((own as { code?: string }).code, '22012', 'division by zero')
  t.equal(dependencyOf(own), undefined, 'not the database being down')

  const port = await new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
  const dead = new pg.Pool({ connectionString: `postgresql://postgres@127.0.0.1:${port}/postgres`, max: 1 })
  t.teardown(async () => { await dead.end() })
  const down = await directQuery(dead, 'SELECT 1', []).then(() => undefined, (e: unknown) => e)
  t.equal(dependencyOf(down), 'postgres', 'refused: the database is down')
})

t.test('disconnectPrisma ends the adapter\'s pool whether or not Prisma ever connected', async (t) => {
  for (const prismaConnected of [false, true]) {
    const adapter = pgAdapter({ DATABASE_URL: PG_URL, DATABASE_SCHEMA: 'public', DATABASE_POOL_SIZE: 1 })
    // A direct statement is the pool's first use; Prisma (here its stand-in, the adapter's own driver) may never connect.
    t.same((await directQuery<{ n: number }>(adapter.pool, 'SELECT 1 AS n', [])).rows, [{ n: 1 }])
    const driver = prismaConnected ? await adapter.connect() : undefined
    let disconnected = 0
    await disconnectPrisma({
      $disconnect: async () => { disconnected++; await driver?.dispose() }
    }, adapter)
    t.equal(disconnected, 1, 'Prisma is disconnected')
    t.ok(adapter.pool.ended, `the pool is ended (Prisma ${prismaConnected ? 'connected' : 'never connected'})`)
  }
})
