// Shared by the end-to-end tests: the real services built in-process on
// free ports (each with its own log capture); a private redis-server comes from @holo/infra/testing.
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

export { eventually, ownRedis, type OwnRedis } from '@holo/infra/testing'
