// Shared by the end-to-end tests: the real services built in-process on
// free ports (each with its own log capture); a private redis-server comes from @holo/infra/testing.
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { dropRoleRegistry, testRolesKey, type Teardown } from '@holo/infra/testing'
import {
  createService, SERVICES as ALL_SERVICES, type ServiceName as AnyServiceName
} from '../../packages/api-client/scripts/services.js'

/** Every service, billing included (test/e2e/billing.test.ts, the fuzzer and the contract journey build it). */
export { ALL_SERVICES, type AnyServiceName }
export type ServiceName = AnyServiceName
export const SERVICES: readonly ServiceName[] = ALL_SERVICES
/** The part of a Fastify instance these tests use. */
export interface FastifyInstance {
  listen: (o: { host: string, port: number }) => Promise<string>
  close: () => Promise<unknown>
}
export type LogLine = Record<string, unknown> & { requestId?: string, service?: string, msg?: string }

/** A pino destination that keeps every JSON line it is given. */
export class LogCapture extends Writable {
  readonly lines: LogLine[] = []
  private rest = ''
  override _write (chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    const text = this.rest + chunk.toString('utf8')
    const parts = text.split('\n')
    this.rest = parts.pop() ?? ''
    for (const p of parts) if (p.trim() !== '') this.lines.push(JSON.parse(p) as LogLine)
    done()
  }

  withRequestId (id: string): LogLine[] { return this.lines.filter((l) => l.requestId === id) }
}

export interface RunningService { name: AnyServiceName, url: string, port: number, app: FastifyInstance, logs: LogCapture }

/**
 * The services of one test file follow a role registry of their own (written by its auth service), so roles
 * changed in one stack never reach another's.
 */
const ROLES_REGISTRY_KEY = testRolesKey()

/** Builds a service with its own buildApp and listens on a free port until the test ends. */
export async function startService (
  t: Teardown,
  name: AnyServiceName,
  env: Record<string, string>
): Promise<RunningService> {
  const logs = new LogCapture()
  const settings: Record<string, string> = { LOG_LEVEL: 'info', ROLES_REGISTRY_KEY, ...env }
  const { app, close } = await createService(name, settings, { logStream: logs })
  t.teardown(async () => {
    await close()
    // The auth service wrote the registry: it goes with it.
    if (name === 'auth') await dropRoleRegistry(settings.ROLES_REGISTRY_KEY ?? ROLES_REGISTRY_KEY, settings.REDIS_URL)
  })
  // Port 0: the kernel's choice cannot be taken by a parallel test in between.
  const port = Number(new URL(await app.listen({ host: '127.0.0.1', port: 0 })).port)
  return { name, url: `http://127.0.0.1:${port}`, port, app, logs }
}

export interface BusStackOptions {
  /** The database every service gets its own role on (`TestDatabase.urlFor`). */
  db: { urlFor: (name: AnyServiceName) => string }
  redisUrl: string
  /** Made by the auth service at start (BOOTSTRAP_ADMIN_*). */
  admin: { email: string, password: string }
  /** Started after auth, in this order; file needs S3_ENDPOINT and S3_BUCKET in `env.file`. */
  services: ReadonlyArray<Exclude<AnyServiceName, 'auth'>>
  /** Each service's own settings, over the stack's. */
  env?: Partial<Record<AnyServiceName, Record<string, string>>>
}

export interface BusStack {
  /** What every service of the stack was given: Redis, the bus's stream prefix, its consumers on. */
  common: Record<string, string> & { EVENTS_STREAM_PREFIX: string }
  services: Partial<Record<AnyServiceName, RunningService>> & { auth: RunningService }
  /** For testGateway: the running services, and a closed port for a required one not started. */
  upstreams: { auth: string, card: string, file: string } & Partial<Record<AnyServiceName, string>>
}

/**
 * The services of one test file on one database and Redis, wired as the event bus wants them: a stream prefix
 * of their own, consumers and relay on, tokens verified with the auth service's keys, the card service told
 * the file service's address (and billing the card service's) when those run.
 */
export async function startBusStack (t: Teardown, o: BusStackOptions): Promise<BusStack> {
  const common = {
    REDIS_URL: o.redisUrl,
    EVENTS_STREAM_PREFIX: `e2e.${randomBytes(4).toString('hex')}.`,
    EVENTS_CONSUMER_ENABLED: 'true',
    EVENTS_RELAY_POLL_MS: '200',
    LOG_LEVEL: 'silent'
  }
  const auth = await startService(t, 'auth', {
    ...common,
    DATABASE_URL: o.db.urlFor('auth'),
    BOOTSTRAP_ADMIN_EMAIL: o.admin.email,
    BOOTSTRAP_ADMIN_PASSWORD: o.admin.password,
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_TIME_COST: '1',
    ...o.env?.auth
  })
  const services: BusStack['services'] = { auth }
  const verifier = { AUTH_JWKS_URL: `${auth.url}/api/v1/auth/.well-known/jwks.json` }
  for (const name of o.services) {
    const wiring: Record<string, string> = {}
    if (name === 'card' && services.file !== undefined) wiring.FILE_SERVICE_URL = services.file.url
    if (name === 'billing' && services.card !== undefined) wiring.CARD_SERVICE_URL = services.card.url
    if (name === 'notification') wiring.NOTIFICATIONS_CHANNEL_PREFIX = `${common.EVENTS_STREAM_PREFIX}n:`
    services[name] = await startService(t, name, {
      ...common, ...verifier, DATABASE_URL: o.db.urlFor(name), ...wiring, ...o.env?.[name]
    })
  }
  const address = (s: RunningService | undefined): string => `127.0.0.1:${s?.port ?? 9}`
  const upstreams: BusStack['upstreams'] = {
    ...Object.fromEntries(Object.values(services).map((s) => [s.name, address(s)])),
    auth: address(auth),
    card: address(services.card),
    file: address(services.file)
  }
  return { common, services, upstreams }
}

export { eventually, ownRedis, type OwnRedis } from '@holo/infra/testing'
