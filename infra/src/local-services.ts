/// <reference path="./s3rver.d.ts" />
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import S3rver from 's3rver'
import { MailDev } from 'maildev'

/** The S3-compatible server used where MinIO is not installed (no auth, no signatures). */
export async function startS3 (
  directory: string,
  port: number
): Promise<{ endpoint: string, stop: () => Promise<void> }> {
  await mkdir(directory, { recursive: true })
  const server = new S3rver({ address: '127.0.0.1', port, directory, silent: true })
  const addr = await server.run() as { port: number }
  return { endpoint: `http://127.0.0.1:${addr.port}`, stop: async () => { await server.close() } }
}

/** MailDev, a real SMTP catcher with a REST API (GET /email, DELETE /email/all). */
export async function startMail (
  smtpPort: number,
  webPort: number
): Promise<{ smtpPort: number, apiUrl: string, stop: () => Promise<void> }> {
  const mail = new MailDev({ smtp: smtpPort, web: webPort, ip: '127.0.0.1', webIp: '127.0.0.1', silent: true })
  await mail.start()
  return { smtpPort, apiUrl: `http://127.0.0.1:${webPort}`, stop: () => mail.stop() }
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

export interface NodeProcess { child: ChildProcess, stop: () => Promise<void> }

/** Runs a TypeScript entry point of the workspace (from source, through tsx) as a child process. */
export function spawnTs (
  script: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
  stdio: StdioOptions = ['ignore', 'inherit', 'inherit'],
  nodeArgs: string[] = []
): NodeProcess {
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--conditions=holo-source', '--import', 'tsx', script],
    { cwd, env, stdio }
  )
  return {
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  }
}
