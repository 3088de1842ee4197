// Test harness: every test file gets its own database, S3 server, SMTP
// catcher and gateway, all real, all torn down with the test.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Redis } from 'ioredis'
import pg from 'pg'
import { roleRegistryKeys } from '@holo/shared'
import { createMigratedDatabase, dropDatabase } from './db.js'
import { GatewayStartError, startGateway, type GatewaySettings, type RunningGateway } from './gateway.js'
import { freePort, startMail, startS3 } from './local-services.js'
import { urlForRole, withDatabase, serviceInfo, type ServiceInfo } from './services.js'

/** The subset of a tap Test the harness needs. */
export interface Teardown { teardown: (fn: () => unknown) => void }

export const adminBaseUrl = (): string =>
  process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
export const testRedisUrl = (): string => process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/**
 * A stream prefix of the test's own (`EVENTS_STREAM_PREFIX`), so tests sharing
 * the machine's Redis never read each other's events; its keys go at teardown.
 */
export function testStreamPrefix (t: Teardown): string {
  const prefix = `test.${randomBytes(5).toString('hex')}.`
  t.teardown(async () => {
    const redis = new Redis(testRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 })
    try {
      await redis.connect()
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
    } finally {
      redis.disconnect()
    }
  })
  return prefix
}

/**
 * A role-registry key (ROLES_REGISTRY_KEY) of this test's own: nothing writes it unless the test's auth app does,
 * so the built-in roles apply, whatever roles another test (or a running stack) changed meanwhile.
 */
export const testRolesKey = (): string => `test:roles:${randomBytes(6).toString('hex')}`

/** Removes a role registry a test's auth service wrote; a Redis already gone (a private one stopped) is fine. */
export async function dropRoleRegistry (key: string, url = testRedisUrl()): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null })
  redis.on('error', () => {})
  try {
    await redis.connect()
    const k = roleRegistryKeys(key)
    await redis.del(k.roles, k.version)
  } catch {
    // Nothing to drop.
  } finally {
    redis.disconnect()
  }
}

/** Polls until `fn` is true: at most `tries` times, `intervalMs` apart. Never an assertion on time. */
export async function eventually (
  fn: () => Promise<boolean> | boolean, { tries = 150, intervalMs = 100 } = {}
): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await Promise.resolve().then(fn).catch(() => false)) return true
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
  return false
}

/** The events in a producer's stream (`prefix` + auth | card | file), oldest first. */
export async function streamedEvents (prefix: string, producer: string): Promise<PublishedEvent[]> {
  const redis = new Redis(testRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    const entries = await redis.xrange(`${prefix}${producer}`, '-', '+')
    return entries.map(([, fields]) => JSON.parse(fields[fields.indexOf('event') + 1] ?? 'null') as PublishedEvent)
  } finally {
    redis.disconnect()
  }
}

/** An event as a test reads it back: the envelope's fields, loosely typed. */
export interface PublishedEvent {
  id: string
  type: string
  source: string
  subject: string
  time: string
  data: Record<string, unknown>
  actorid?: string
  requestid?: string
  clientip?: string
  subjectseq?: number
}

/**
 * What a service's outbox holds (sent or not), oldest first, optionally of some
 * types only; `db` is a test database or the URL of one (the admin's or the service's role).
 */
export async function outboxEvents (
  db: TestDatabase | string,
  schema: string,
  types?: string[]
): Promise<PublishedEvent[]> {
  const client = new pg.Client({ connectionString: typeof db === 'string' ? db : db.adminUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ payload: PublishedEvent }>(
      `SELECT payload FROM ${pg.escapeIdentifier(schema)}.outbox
       WHERE $1::text[] IS NULL OR type = ANY($1) ORDER BY created_at, id`, [types ?? null])
    return rows.map((r) => r.payload)
  } finally {
    await client.end()
  }
}

export interface TestDatabase {
  name: string
  adminUrl: string
  /** The URL of a service's own role on this database. */
  urlFor: (service: ServiceInfo['name']) => string
}

/** A freshly created and migrated database, dropped when the test ends. */
export async function testDatabase (t: Teardown): Promise<TestDatabase> {
  const name = `holo_test_${process.pid}_${randomBytes(4).toString('hex')}`
  const adminUrl = withDatabase(adminBaseUrl(), name)
  await createMigratedDatabase(adminBaseUrl(), name)
  t.teardown(() => dropDatabase(adminUrl))
  return { name, adminUrl, urlFor: (s) => urlForRole(adminUrl, serviceInfo(s).role) }
}

export async function tempDir (t: Teardown, prefix = 'holo-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export async function testS3 (t: Teardown): Promise<{ endpoint: string, stop: () => Promise<void> }> {
  const s3 = await startS3(await tempDir(t, 'holo-s3-'), 0)
  t.teardown(() => s3.stop().catch(() => {}))
  return s3
}

export interface TestMail {
  smtpPort: number
  apiUrl: string
  /** Messages to an address, newest first. */
  messagesTo: (address: string) => Promise<Array<{ subject: string, text: string }>>
  /** Polls until a message to `address` whose subject matches arrives (mail is sent in the background). */
  waitFor: (address: string, subject: RegExp) => Promise<{ subject: string, text: string }>
}

export async function testMail (t: Teardown): Promise<TestMail> {
  const mail = await startMail(await freePort(), await freePort())
  t.teardown(() => mail.stop())
  const api: TestMail = {
    ...mail,
    messagesTo: async (address) => {
      // MailDev 3 serves its REST API under /api (2.x had it at the root).
      const res = await fetch(`${mail.apiUrl}/api/email`)
      if (!res.ok) throw new Error(`MailDev answered ${res.status}`)
      const all = await res.json() as Array<{
        subject: string
        text: string
        to: Array<{ address: string }>
        time?: string
        date?: string
      }>
      const when = (m: { time?: string, date?: string }): number => Date.parse(m.time ?? m.date ?? '') || 0
      // The list is oldest first and times have second precision: reverse, then a stable sort.
      return [...all].reverse()
        .filter((m) => m.to.some((r) => r.address.toLowerCase() === address.toLowerCase()))
        .sort((a, b) => when(b) - when(a))
    },
    waitFor: async (address, subject) => {
      // Bounded by attempts (about 10 s), not asserted on time.
      for (let i = 0; i < 200; i++) {
        const found = (await api.messagesTo(address)).find((m) => subject.test(m.subject))
        if (found !== undefined) return found
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      throw new Error(`no mail "${String(subject)}" to ${address}`)
    }
  }
  return api
}

export async function testGateway (
  t: Teardown,
  upstreams: GatewaySettings['upstreams'],
  extra: Partial<GatewaySettings> = {}
): Promise<RunningGateway> {
  // A free port can be taken by a parallel test before nginx binds it: then another one.
  for (let attempt = 1; ; attempt++) {
    const runDir = await tempDir(t, 'holo-nginx-')
    try {
      const gw = await startGateway({ port: await freePort(), upstreams, runDir, ...extra })
      t.teardown(() => gw.stop())
      return gw
    } catch (err) {
      if (!(err instanceof GatewayStartError && err.portTaken && attempt < 3)) throw err
    }
  }
}

export { freePort }
export { testIssuer, type TestIssuer } from './test-issuer.js'
export { ownRedis, type OwnRedis } from './own-redis.js'
