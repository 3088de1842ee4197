import { randomBytes, randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { Redis } from 'ioredis'
import type { Role } from '@holo/shared'
import type { HoloEvent } from '@holo/events'
import {
  testDatabase, testIssuer, testRedisUrl, type Teardown, type TestDatabase, type TestIssuer, testRolesKey
} from '@holo/infra/testing'
import { buildApp, type AppOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { closeDeps, createDeps, type Deps } from '../src/deps.js'

export interface TestUser { id: string, token: string, headers: { authorization: string } }

export interface TestApp {
  app: FastifyInstance
  deps: Deps
  config: Config
  issuer: TestIssuer
  db: TestDatabase
  /** This test's stream prefix: no other test reads or writes its streams. */
  prefix: string
  /** A plain Redis client for publishing and looking at streams. */
  redis: Redis
  /** A new user (or moderator, admin) with a token for it. */
  user: (roles?: Role[]) => TestUser
  /** Publishes as a producer's relay does: one XADD of the envelope on `<prefix><producer>`. */
  publish: (producer: 'auth' | 'card' | 'file', event: HoloEvent | string) => Promise<string>
  /** A superuser client on this test's database (to tamper with the log as an intruder with full rights would). */
  superuser: () => Promise<pg.Client>
  /** Rows in audit.audit_log, read as the superuser. */
  logCount: () => Promise<number>
}

/** Another instance of the same service (same database, prefix and issuer), e.g. a second replica. */
export async function startInstance (t: Teardown, base: TestApp, options: AppOptions = {}): Promise<{
  app: FastifyInstance
  deps: Deps
}> {
  const deps = await createDeps(base.config)
  const app = await buildApp(base.config, deps, options)
  t.teardown(async () => { await app.close(); await closeDeps(deps) })
  await app.ready()
  return { app, deps }
}

/**
 * The real audit app (its consumer running) on its own fresh database, the machine's Redis under a stream prefix
 * of its own, and a test token issuer standing in for the auth service.
 */
export async function buildTestApp (
  t: Teardown,
  env: Record<string, string> = {},
  options: AppOptions = {}
): Promise<TestApp> {
  const [db, issuer] = await Promise.all([testDatabase(t), testIssuer(t)])
  const prefix = `test.audit.${randomBytes(5).toString('hex')}.`
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: db.urlFor('audit'),
    REDIS_URL: testRedisUrl(),
    AUTH_JWKS_URL: issuer.jwksUrl,
    AUTH_ISSUER: issuer.issuer,
    ROLES_REGISTRY_KEY: testRolesKey(),
    EVENTS_STREAM_PREFIX: prefix,
    ...env
  })
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true })
  await redis.connect()
  // Registered first, so it runs last: the app and its consumer are gone before the streams are.
  t.teardown(async () => {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${config.EVENTS_STREAM_PREFIX}*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
    } while (cursor !== '0')
    await redis.quit()
  })
  const deps = await createDeps(config)
  const app = await buildApp(config, deps, options)
  t.teardown(async () => { await app.close(); await closeDeps(deps) })
  await app.ready()

  const superuser = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: db.adminUrl })
    await c.connect()
    t.teardown(async () => { await c.end().catch(() => {}) })
    return c
  }
  let su: pg.Client | undefined
  return {
    app,
    deps,
    config,
    issuer,
    db,
    prefix: config.EVENTS_STREAM_PREFIX,
    redis,
    user: (roles: Role[] = ['user']) => {
      const id = randomUUID()
      const token = issuer.token({ sub: id, roles })
      return { id, token, headers: { authorization: `Bearer ${token}` } }
    },
    publish: async (producer, event) => {
      const id = await redis.xadd(config.EVENTS_STREAM_PREFIX + producer, '*', 'event',
        typeof event === 'string' ? event : JSON.stringify(event))
      if (id === null) throw new Error('XADD returned no id')
      return id
    },
    superuser,
    logCount: async () => {
      su ??= await superuser()
      const { rows: [row] } = await su.query<{ n: string }>('SELECT count(*) AS n FROM audit.audit_log')
      return Number(row?.n ?? 0)
    }
  }
}

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Polls until `fn` holds or the deadline passes; the caller asserts on the result. Never a timed assertion. */
export async function eventually (
  fn: () => Promise<boolean> | boolean,
  { timeoutMs = 15_000, intervalMs = 50 } = {}
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await Promise.resolve().then(fn).catch(() => false)) return true
    if (Date.now() > deadline) return false
    await sleep(intervalMs)
  }
}

/** What a request to the app with `who`'s token answers. */
export async function get (ta: TestApp, url: string, who?: TestUser): Promise<{
  status: number
  body: Record<string, any>
}> {
  const res = await ta.app.inject({ method: 'GET', url, headers: who?.headers ?? {} })
  return { status: res.statusCode, body: res.json() }
}
