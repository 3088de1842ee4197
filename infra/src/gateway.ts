import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { repoRoot } from './services.js'

export interface GatewaySettings {
  port: number
  upstreams: { auth: string, card: string, file: string }
  /** Folder for the rendered config, pid, logs and temp files. */
  runDir: string
  /** Access log file (or `off`); defaults to the run folder. */
  accessLog?: string
  /** Extra nginx `location` blocks, inserted before the catch-all (benchmarks' baselines). */
  extraLocations?: string
  /** Extra `upstream` blocks for those locations. */
  extraUpstreams?: string
}

export const nginxBinary = (): string =>
  ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p)) ?? 'nginx'

/**
 * Renders gateway/nginx.conf for local ports. Only hosts, the port and paths
 * change, so the routing tested locally is exactly what compose runs.
 */
export async function renderNginxConf (s: GatewaySettings): Promise<string> {
  let conf = await readFile(path.join(repoRoot, 'gateway/nginx.conf'), 'utf8')
  const replace = (from: string | RegExp, to: string): void => {
    const next = conf.replace(from, to)
    if (next === conf) throw new Error(`gateway/nginx.conf: expected to find ${String(from)}`)
    conf = next
  }
  replace(/server auth:3001/, `server ${s.upstreams.auth}`)
  replace(/server card:3002/, `server ${s.upstreams.card}`)
  replace(/server file:3003/, `server ${s.upstreams.file}`)
  replace(/listen 8080 reuseport;/, `listen 127.0.0.1:${s.port};`)
  replace(/pid \/tmp\/nginx.pid;/, `pid ${path.join(s.runDir, 'nginx.pid')};`)
  replace(/error_log \/dev\/stderr warn;/, `error_log ${path.join(s.runDir, 'error.log')} warn;`)
  replace(/access_log \/dev\/stdout holo_json( [^;]*)?;/, s.accessLog === 'off' ? 'access_log off;' : `access_log ${s.accessLog ?? path.join(s.runDir, 'access.log')} holo_json$1;`)
  replace(/\/usr\/share\/holo\/docs\//, `${path.join(repoRoot, 'gateway/docs')}/`)
  replace(/\/usr\/share\/holo\/swagger-ui\//, `${path.join(repoRoot, 'gateway/node_modules/swagger-ui-dist')}/`)
  if (s.extraUpstreams !== undefined) replace(/ {2}upstream auth_service \{\n/, `${s.extraUpstreams}\n  upstream auth_service {\n`)
  if (s.extraLocations !== undefined) replace(/ {4}location \/ \{\n/, `${s.extraLocations}\n    location / {\n`)
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((k) => `  ${k}_temp_path ${path.join(s.runDir, 'tmp', k)};`).join('\n')
  replace(/ {2}# @local-paths.*\n/, `${temp}\n`)
  return conf
}

export interface RunningGateway {
  url: string
  process: ChildProcess
  confPath: string
  stop: () => Promise<void>
}

export async function startGateway (s: GatewaySettings): Promise<RunningGateway> {
  await mkdir(path.join(s.runDir, 'tmp'), { recursive: true, mode: 0o777 })
  const confPath = path.join(s.runDir, 'nginx.conf')
  await writeFile(confPath, await renderNginxConf(s))
  const child = spawn(nginxBinary(), ['-e', path.join(s.runDir, 'error.log'), '-p', s.runDir, '-c', confPath, '-g', 'daemon off;'], {
    stdio: ['ignore', 'inherit', 'inherit']
  })
  const url = `http://127.0.0.1:${s.port}`
  await waitForHttp(`${url}/health`, child)
  return {
    url,
    process: child,
    confPath,
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGQUIT')
      await exited
    }
  }
}

export async function waitForHttp (url: string, child?: ChildProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    if (child !== undefined && child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`)
    try {
      const res = await fetch(url)
      if (res.status < 500) return
      last = new Error(`status ${res.status}`)
    } catch (err) { last = err }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer in ${timeoutMs} ms: ${String(last)}`)
}
