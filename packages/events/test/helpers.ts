// Test resources of the bus: a plain database per test file (created and
// dropped here, no service migrations needed), Redis with a unique stream
// prefix per test (the shared server) or a private redis-server child that a
// test may stop and start, and bounded polling.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { Redis } from 'ioredis'
import {
  adminBaseUrl, ownRedis as sharedOwnRedis, testRedisUrl, type OwnRedis, type Teardown
} from '@holo/infra/testing'
import { APPLIED_EVENTS_DDL, OUTBOX_DDL, parseEvent, type HoloEvent } from '../src/index.js'
import { entries } from '../src/redis.js'

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

export { eventually } from '@holo/infra/testing'

/** Calls `seen` with the text of every statement the pool's connections send (queries still run as they were). */
export function watchStatements (pool: pg.Pool, seen: (text: string) => void): void {
  pool.on('connect', (c) => {
    const query = c.query.bind(c) as (...args: unknown[]) => unknown
    c.query = ((...args: unknown[]) => {
      const first = args[0]
      seen(typeof first === 'string' ? first : String((first as { text?: string }).text))
      return query(...args)
    }) as typeof c.query
  })
}

export const unique = (label: string): string => `${label}_${randomBytes(4).toString('hex')}`

export interface TestDb {
  url: string
  /** A pool on the test database, ended at teardown. */
  pool: (max?: number) => pg.Pool
  /** A fresh schema holding the outbox and applied_events, as a service's migration would make them. */
  schema: (label?: string) => Promise<string>
}

export async function testDb (t: Teardown): Promise<TestDb> {
  const name = `holo_events_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: adminBaseUrl() })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`)
  await admin.end()
  const u = new URL(adminBaseUrl())
  u.pathname = `/${name}`
  const url = u.toString()
  const pools: pg.Pool[] = []
  t.teardown(async () => {
    await Promise.all(pools.map(async (p) => { await p.end().catch(() => {}) }))
    const c = new pg.Client({ connectionString: adminBaseUrl() })
    await c.connect()
    await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`)
    await c.end()
  })
  const pool = (max = 5): pg.Pool => {
    const p = new pg.Pool({ connectionString: url, max })
    p.on('error', () => {})
    pools.push(p)
    return p
  }
  const setup = pool(1)
  return {
    url,
    pool,
    schema: async (label = 'svc') => {
      const schema = unique(label)
      const c = await setup.connect()
      try {
        await c.query(`CREATE SCHEMA ${pg.escapeIdentifier(schema)}`)
        await c.query(`SET search_path TO ${pg.escapeIdentifier(schema)}`)
        await c.query(OUTBOX_DDL)
        await c.query(APPLIED_EVENTS_DDL)
        await c.query('RESET search_path')
      } finally {
        c.release()
      }
      return schema
    }
  }
}

/** A client of the shared test Redis and a stream prefix no other test uses; its keys go at teardown. */
export async function sharedRedis (t: Teardown): Promise<{ redis: Redis, prefix: string }> {
  const redis = new Redis(testRedisUrl(), { lazyConnect: true })
  await redis.connect()
  const prefix = `test.${randomBytes(5).toString('hex')}.`
  t.teardown(async () => {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
    } while (cursor !== '0')
    await redis.quit()
  })
  return { redis, prefix }
}

/** A plain client for assertions, with the defaults a test wants (queue while reconnecting). */
export async function client (t: Teardown, url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null })
  redis.on('error', () => {})
  await redis.connect().catch(() => {})
  t.teardown(() => { redis.disconnect() })
  return redis
}

/** Every event in a stream, oldest first. */
export async function streamEvents (redis: Redis, stream: string): Promise<HoloEvent[]> {
  const raw = await redis.call('XRANGE', stream, '-', '+')
  return entries(raw).map((e) => {
    const parsed = parseEvent(e.fields.event)
    if (!parsed.ok) throw new Error(`bad event in ${stream}: ${parsed.reason}`)
    return parsed.event
  })
}

/** A private Redis whose AOF survives a restart by default, as the bus needs in production. */
export const ownRedis = async (t: Teardown, { persistent = true } = {}): Promise<OwnRedis> =>
  await sharedOwnRedis(t, { persistent })
