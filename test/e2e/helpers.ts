// Shared by the end-to-end tests: the three real services built in-process on
// free ports (each with its own log capture), and a real redis-server child.
import { spawn, type ChildProcess } from 'node:child_process'
import { Writable } from 'node:stream'
import { freePort, type Teardown } from '@holo/infra/testing'
import { createService, type ServiceName } from '../../packages/api-client/scripts/services.js'

export type { ServiceName }
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

export interface RunningService { name: ServiceName, url: string, port: number, app: FastifyInstance, logs: LogCapture }

/** Builds a service with its own buildApp and listens on a free port until the test ends. */
export async function startService (
  t: Teardown,
  name: ServiceName,
  env: Record<string, string>
): Promise<RunningService> {
  const logs = new LogCapture()
  const { app, close } = await createService(name, { LOG_LEVEL: 'info', ...env }, { logStream: logs })
  t.teardown(close)
  const port = await freePort()
  await app.listen({ host: '127.0.0.1', port })
  return { name, url: `http://127.0.0.1:${port}`, port, app, logs }
}

/** Polls `fn` until it returns true or the bound is reached; returns the last result. */
export async function eventually (
  fn: () => Promise<boolean>,
  { tries = 100, intervalMs = 100 } = {}
): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await fn().catch(() => false)) return true
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
  return false
}

export interface OwnRedis { url: string, port: number, stop: () => Promise<void>, start: () => Promise<void> }

/** A private redis-server on a free port (never the shared one), stopped with the test. */
export async function ownRedis (t: Teardown): Promise<OwnRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    const c = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' }
    )
    child = c
    const up = await eventually(async () => {
      if (c.exitCode !== null) throw new Error(`redis-server exited with ${c.exitCode}`)
      return await ping(port)
    })
    if (!up) throw new Error(`redis-server on ${port} did not start`)
  }
  const stop = async (): Promise<void> => {
    const c = child
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise((resolve) => c.once('exit', resolve))
    c.kill('SIGKILL')
    await exited
  }
  await start()
  t.teardown(stop)
  return { url: `redis://127.0.0.1:${port}`, port, stop, start }
}

async function ping (port: number): Promise<boolean> {
  const { createConnection } = await import('node:net')
  return await new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port })
    s.setTimeout(500)
    s.once('connect', () => s.write('PING\r\n'))
    s.once('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')) })
    s.once('error', () => resolve(false))
    s.once('timeout', () => { s.destroy(); resolve(false) })
  })
}
