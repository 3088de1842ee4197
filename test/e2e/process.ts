// Runs a service's real entry point (src/server.ts) as its own process.
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { repoRoot } from '@holo/infra'
import type { ServiceName } from './helpers.js'

export interface ServiceProcess {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Only the variables given (plus PATH/HOME): nothing leaks in from the developer's shell. */
export function spawnService (name: ServiceName, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [
    '--conditions=holo-source', '--import', 'tsx', path.join('services', name, 'src/server.ts')
  ], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  return { child, stdout: () => out, stderr: () => err, exited }
}
