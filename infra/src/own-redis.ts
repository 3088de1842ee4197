import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { freePort } from './local-services.js'

export interface OwnRedis { url: string, port: number, stop: () => Promise<void>, start: () => Promise<void> }

/** Whether a Redis answers PING on the port (a plain socket: no client library needed). */
async function answers (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port })
    s.setTimeout(500)
    s.once('connect', () => s.write('PING\r\n'))
    s.once('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')) })
    s.once('error', () => { resolve(false) })
    s.once('timeout', () => { s.destroy(); resolve(false) })
  })
}

/**
 * A private redis-server on a free port (never the machine's shared one) that a test stops and
 * starts, killed with the test. `persistent` keeps an AOF in a temporary directory, so what was
 * written before a stop is there after the start, as in production; without it a restart loses all.
 */
export async function ownRedis (
  t: { teardown: (fn: () => unknown) => void },
  { persistent = false } = {}
): Promise<OwnRedis> {
  const port = await freePort()
  const dir = await mkdtemp(path.join(tmpdir(), 'holo-redis-'))
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    const c = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir,
      ...(persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'])
    ], { stdio: 'ignore' })
    child = c
    // Bounded: 20 s at most.
    for (let i = 0; i < 400; i++) {
      if (c.exitCode !== null) throw new Error(`redis-server exited with ${c.exitCode}`)
      if (await answers(port)) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`redis-server on ${port} did not start`)
  }
  const stop = async (): Promise<void> => {
    const c = child
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise((resolve) => c.once('exit', resolve))
    c.kill('SIGKILL')
    await exited
  }
  await start()
  t.teardown(async () => {
    await stop()
    await rm(dir, { recursive: true, force: true })
  })
  return { url: `redis://127.0.0.1:${port}`, port, stop, start }
}
