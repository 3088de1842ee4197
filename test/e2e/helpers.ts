// Shared by the end-to-end tests: the three real services built in-process on
// free ports (each with its own log capture), and a real redis-server child.
import { spawn, type ChildProcess } from 'node:child_process'
import { Writable } from 'node:stream'
import { freePort, type Teardown } from '@holo/infra/testing'
import * as authApp from '../../services/auth/src/app.js'
import * as authConfig from '../../services/auth/src/config.js'
import * as authDeps from '../../services/auth/src/deps.js'
import * as cardApp from '../../services/card/src/app.js'
import * as cardConfig from '../../services/card/src/config.js'
import * as cardDeps from '../../services/card/src/deps.js'
import * as fileApp from '../../services/file/src/app.js'
import * as fileConfig from '../../services/file/src/config.js'
import * as fileDeps from '../../services/file/src/deps.js'

export type ServiceName = 'auth' | 'card' | 'file'
/** The part of a Fastify instance these tests use. */
export interface FastifyInstance { listen: (o: { host: string, port: number }) => Promise<string>, close: () => Promise<unknown> }
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

interface ServiceModules {
  loadConfig: (env: Record<string, string | undefined>) => unknown
  createDeps: (config: never) => Promise<unknown>
  closeDeps: (deps: never) => Promise<void>
  buildApp: (config: never, deps: never, options: { logStream?: NodeJS.WritableStream }) => Promise<FastifyInstance>
}

const modules: Record<ServiceName, ServiceModules> = {
  auth: { ...authConfig, ...authDeps, ...authApp } as unknown as ServiceModules,
  card: { ...cardConfig, ...cardDeps, ...cardApp } as unknown as ServiceModules,
  file: { ...fileConfig, ...fileDeps, ...fileApp } as unknown as ServiceModules
}

export interface RunningService { name: ServiceName, url: string, port: number, app: FastifyInstance, logs: LogCapture }

/** Builds a service with its own buildApp and listens on a free port until the test ends. */
export async function startService (t: Teardown, name: ServiceName, env: Record<string, string>): Promise<RunningService> {
  const m = modules[name]
  const config = m.loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'info', ...env })
  const deps = await m.createDeps(config as never)
  const logs = new LogCapture()
  const app = await m.buildApp(config as never, deps as never, { logStream: logs })
  t.teardown(async () => { await app.close(); await m.closeDeps(deps as never) })
  const port = await freePort()
  await app.listen({ host: '127.0.0.1', port })
  return { name, url: `http://127.0.0.1:${port}`, port, app, logs }
}

/** Polls `fn` until it returns true or the bound is reached; returns the last result. */
export async function eventually (fn: () => Promise<boolean>, { tries = 100, intervalMs = 100 } = {}): Promise<boolean> {
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
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
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
