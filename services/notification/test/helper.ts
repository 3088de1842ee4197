import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import type { Role } from '@holo/shared'
import { groupStats, producerOf, type HoloEvent } from '@holo/events'
import {
  testDatabase, testIssuer, testRedisUrl, testStreamPrefix, type Teardown, type TestDatabase, type TestIssuer, testRolesKey
} from '@holo/infra/testing'
import { buildApp, type AppOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { closeDeps, createDeps, type Deps } from '../src/deps.js'
import { CONSUMER_GROUP, PRODUCER_STREAMS } from '../src/modules/ingest/ingest.consumer.js'
import type { LiveMessage } from '../src/modules/notifications/notifications.publisher.js'

export interface TestUser { id: string, token: string, headers: { authorization: string } }

export interface TestApp {
  app: FastifyInstance
  deps: Deps
  config: Config
  issuer: TestIssuer
  db: TestDatabase
  /** This test's EVENTS_STREAM_PREFIX (also the channel prefix of live messages). */
  prefix: string
  /** A user id with a token for it. */
  user: (id?: string, roles?: Role[]) => TestUser
  /** Publishes events as a producer's relay does: XADD <prefix><producer> * event <envelope>. */
  publish: (...events: HoloEvent[]) => Promise<void>
  /** Resolves once the group has read and acknowledged everything in its streams (polls, with a deadline). */
  drained: () => Promise<void>
  /** Subscribes to a user's live channel; the messages received so far. */
  listen: (userId: string) => Promise<LiveMessage[]>
}

export interface TestAppOptions extends AppOptions {
  /** Share another test app's database, issuer and stream prefix (a second instance of the service). */
  like?: TestApp
}

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Polls `fn` until it holds; fails the wait (throws) after `timeoutMs`. Never an assertion on time. */
export async function eventually (
  fn: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000, intervalMs = 50
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await Promise.resolve().then(fn).catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(intervalMs)
  }
}

/** The real notification app (and its consumer) on a fresh database, the machine's Redis and a unique prefix. */
export async function buildTestApp (
  t: Teardown,
  env: Record<string, string> = {},
  options: TestAppOptions = {}
): Promise<TestApp> {
  const [db, issuer] = options.like !== undefined
    ? [options.like.db, options.like.issuer]
    : await Promise.all([testDatabase(t), testIssuer(t)])
  const prefix = options.like?.prefix ?? testStreamPrefix(t)
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: db.urlFor('notification'),
    REDIS_URL: testRedisUrl(),
    AUTH_JWKS_URL: issuer.jwksUrl,
    AUTH_ISSUER: issuer.issuer,
    ROLES_REGISTRY_KEY: testRolesKey(),
    EVENTS_STREAM_PREFIX: prefix,
    NOTIFICATIONS_CHANNEL_PREFIX: `${prefix}notifications:`,
    // An unused port unless a test brings its MailDev: mail then fails and stays queued.
    SMTP_URL: 'smtp://127.0.0.1:9',
    NOTIFICATIONS_EMAIL_POLL_MS: '0',
    ...env
  })
  const deps = await createDeps(config)
  const app = await buildApp(config, deps, options)
  const subscribers: Redis[] = []
  t.teardown(async () => {
    for (const s of subscribers) s.disconnect()
    await app.close()
    await closeDeps(deps)
  })
  const user = (id: string = randomUUID(), roles: Role[] = ['user']): TestUser => {
    const token = issuer.token({ sub: id, roles })
    return { id, token, headers: { authorization: `Bearer ${token}` } }
  }
  const publish = async (...events: HoloEvent[]): Promise<void> => {
    const pipeline = deps.redis.pipeline()
    for (const e of events) pipeline.xadd(prefix + producerOf(e), '*', 'event', JSON.stringify(e))
    for (const [err] of await pipeline.exec() ?? []) if (err !== null) throw err
  }
  const drained = async (): Promise<void> => {
    await eventually(async () => {
      const stats = await groupStats(deps.redis, CONSUMER_GROUP, PRODUCER_STREAMS.map((p) => prefix + p))
      return stats.length === PRODUCER_STREAMS.length && stats.every((s) => s.lag === 0 && s.pending === 0)
    }, 'the consumer group to drain its streams')
  }
  const listen = async (userId: string): Promise<LiveMessage[]> => {
    const sub = new Redis(testRedisUrl())
    subscribers.push(sub)
    const got: LiveMessage[] = []
    sub.on('message', (_channel: string, message: string) => { got.push(JSON.parse(message) as LiveMessage) })
    await sub.subscribe(`${config.NOTIFICATIONS_CHANNEL_PREFIX}user:${userId}`)
    return got
  }
  return { app, deps, config, issuer, db, prefix, user, publish, drained, listen }
}

/** An event's subjectseq, as the producer's outbox sets it (makeEvent leaves it out). */
export const withSeq = <E extends HoloEvent>(event: E, subjectseq: number): E => ({ ...event, subjectseq })
