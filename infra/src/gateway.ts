import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { repoRoot } from './services.js'

export interface GatewaySettings {
  port: number
  /** host:port of each service; the optional ones default to a closed port (their routes answer 502). */
  upstreams: {
    auth: string
    card: string
    file: string
    notification?: string
    analytics?: string
    audit?: string
    billing?: string
  }
  /** Folder for the rendered config, pid, logs and temp files. */
  runDir: string
  /** Access log file (or `off`); defaults to the run folder. */
  accessLog?: string
  /** Extra nginx `location` blocks, inserted before the catch-all (benchmarks' baselines). */
  extraLocations?: string
  /** Extra `upstream` blocks for those locations. */
  extraUpstreams?: string
  /**
   * Proxies in front of the gateway (IP addresses or CIDRs) whose X-Forwarded-For
   * names the client. None by default: the peer is the client.
   */
  trustedProxies?: string[]
  /** Where the /docs page comes from; defaults to the checkout's gateway/docs. */
  docsSource?: string
  /** Where Swagger UI comes from; defaults to the checkout's swagger-ui-dist. */
  swaggerUiSource?: string
  /**
   * The built dashboard served at /admin/; defaults to the checkout's apps/admin/build (made by
   * `pnpm --filter @holo/admin build`). Without a build, /admin/ answers the gateway's 404 problem.
   */
  adminSource?: string
  /**
   * A folder nginx workers can enter: the /docs assets are served from copies
   * in it and temp files go there. startGateway picks it; defaults to runDir.
   */
  workerDir?: string
}

/** Where `pnpm --filter @holo/admin build` puts the dashboard's files. */
export const adminBuildDir = path.join(repoRoot, 'apps/admin/build')

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
  replace(/server notification:3004/, `server ${s.upstreams.notification ?? '127.0.0.1:9'}`)
  replace(/server analytics:3005/, `server ${s.upstreams.analytics ?? '127.0.0.1:9'}`)
  replace(/server audit:3006/, `server ${s.upstreams.audit ?? '127.0.0.1:9'}`)
  replace(/server billing:3007/, `server ${s.upstreams.billing ?? '127.0.0.1:9'}`)
  replace(/listen 8080 reuseport;/, `listen 127.0.0.1:${s.port};`)
  replace(/pid \/tmp\/nginx.pid;/, `pid ${path.join(s.runDir, 'nginx.pid')};`)
  replace(/error_log \/dev\/stderr warn;/, `error_log ${path.join(s.runDir, 'error.log')} warn;`)
  replace(
    /access_log \/dev\/stdout holo_json( [^;]*)?;/,
    s.accessLog === 'off'
      ? 'access_log off;'
      : `access_log ${s.accessLog ?? path.join(s.runDir, 'access.log')} holo_json$1;`
  )
  const workerDir = s.workerDir ?? s.runDir
  replace(/\/usr\/share\/holo\/docs\//, `${path.join(workerDir, 'public/docs')}/`)
  replace(/\/usr\/share\/holo\/swagger-ui\//, `${path.join(workerDir, 'public/swagger-ui')}/`)
  replace(/\/usr\/share\/holo\/www;/g, `${path.join(workerDir, 'public/www')};`)
  const realIpFrom = (s.trustedProxies ?? []).map((p) => `  set_real_ip_from ${trustedProxy(p)};\n`)
  replace(/ {2}# @trusted-proxies\n/, realIpFrom.join(''))
  if (s.extraUpstreams !== undefined) {
    replace(/ {2}upstream auth_service \{\n/, `${s.extraUpstreams}\n  upstream auth_service {\n`)
  }
  if (s.extraLocations !== undefined) replace(/ {4}location \/ \{\n/, `${s.extraLocations}\n    location / {\n`)
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((k) => `  ${k}_temp_path ${path.join(workerDir, 'tmp', k)};`).join('\n')
  replace(/ {2}# @local-paths.*\n/, `${temp}\n`)
  return conf
}

/** An address or CIDR for set_real_ip_from; anything else could smuggle directives into the config. */
function trustedProxy (entry: string): string {
  const [address = '', bits, ...rest] = entry.split('/')
  const family = isIP(address)
  const bitsOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128))
  if (family === 0 || rest.length > 0 || !bitsOk) {
    throw new Error(`GatewaySettings.trustedProxies: ${JSON.stringify(entry)} is not an IP address or CIDR`)
  }
  return entry
}

/** Whether users other than the owners can traverse every folder down to `dir`. */
async function othersCanEnter (dir: string): Promise<boolean> {
  for (let d = await realpath(dir); ; d = path.dirname(d)) {
    if (((await stat(d)).mode & 0o001) === 0) return false
    if (path.dirname(d) === d) return true
  }
}

/** Copies a folder (following links) with world-readable modes, whatever the source's. */
async function copyReadable (from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true })
  await chmod(to, 0o755)
  for (const name of await readdir(from)) {
    const source = path.join(from, name)
    if ((await stat(source)).isDirectory()) await copyReadable(source, path.join(to, name))
    else {
      await copyFile(source, path.join(to, name))
      await chmod(path.join(to, name), 0o644)
    }
  }
}

/**
 * Started as root, nginx runs its workers as nobody, who may not enter the
 * checkout (a clone in a mode-700 home or `mktemp -d`): they would answer 403
 * for /docs and fail on temp files. So workers get their own folder, readable
 * by all: runDir when others can enter it, else a fresh one in the OS temp dir.
 */
async function prepareWorkerDir (s: GatewaySettings): Promise<{ dir: string, owned: boolean }> {
  let dir = s.runDir
  let owned = false
  if (process.getuid?.() === 0) {
    await chmod(s.runDir, 0o711)
    if (!await othersCanEnter(s.runDir)) {
      dir = await mkdtemp(path.join(tmpdir(), 'holo-nginx-workers-'))
      owned = true
      await chmod(dir, 0o711)
      if (!await othersCanEnter(dir)) throw new Error(`nginx workers cannot enter ${dir}: set TMPDIR to one they can`)
    }
  }
  await mkdir(path.join(dir, 'tmp'), { recursive: true, mode: 0o777 })
  await rm(path.join(dir, 'public'), { recursive: true, force: true })
  const swaggerUi = s.swaggerUiSource ?? path.join(repoRoot, 'gateway/node_modules/swagger-ui-dist')
  await copyReadable(s.docsSource ?? path.join(repoRoot, 'gateway/docs'), path.join(dir, 'public/docs'))
  await copyReadable(swaggerUi, path.join(dir, 'public/swagger-ui'))
  const admin = s.adminSource ?? adminBuildDir
  if (existsSync(path.join(admin, 'index.html'))) await copyReadable(admin, path.join(dir, 'public/www/admin'))
  await chmod(path.join(dir, 'public'), 0o755)
  return { dir, owned }
}

export interface RunningGateway {
  url: string
  process: ChildProcess
  confPath: string
  stop: () => Promise<void>
}

export async function startGateway (s: GatewaySettings): Promise<RunningGateway> {
  await mkdir(s.runDir, { recursive: true })
  await rm(path.join(s.runDir, 'error.log'), { force: true }) // what a failed start leaves is its own
  const confPath = path.join(s.runDir, 'nginx.conf')
  const url = `http://127.0.0.1:${s.port}`
  const worker = await prepareWorkerDir(s)
  let child: ChildProcess | undefined
  const stop = async (): Promise<void> => {
    const c = child
    if (c !== undefined && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((resolve) => c.once('exit', resolve))
      c.kill('SIGQUIT')
      await exited
    }
    if (worker.owned) await rm(worker.dir, { recursive: true, force: true })
  }
  try {
    await writeFile(confPath, await renderNginxConf({ ...s, workerDir: worker.dir }))
    const args = ['-e', path.join(s.runDir, 'error.log'), '-p', s.runDir, '-c', confPath, '-g', 'daemon off;']
    child = spawn(nginxBinary(), args, { stdio: ['ignore', 'inherit', 'inherit'] })
    await waitForHttp(`${url}/health`, child)
    return { url, process: child, confPath, stop }
  } catch (err) {
    await stop()
    throw new GatewayStartError(s.port, err, await errorLogTail(s.runDir))
  }
}

/** nginx did not come up; carries the end of its error log (a port taken, a path it cannot read...). */
export class GatewayStartError extends Error {
  constructor (readonly port: number, cause: unknown, readonly errorLog: string) {
    super(`nginx on port ${port} did not start: ${String(cause)}${errorLog === '' ? '' : `\nerror.log:\n${errorLog}`}`, { cause })
  }

  /** Another process took the port between choosing it and nginx binding it: a new port will do. */
  get portTaken (): boolean { return /Address already in use/.test(this.errorLog) }
}

async function errorLogTail (runDir: string): Promise<string> {
  const text = await readFile(path.join(runDir, 'error.log'), 'utf8').catch(() => '')
  return text.split('\n').slice(-20).join('\n').trim()
}

export async function waitForHttp (url: string, child?: ChildProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    if (child !== undefined && child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`)
    try {
      // Each try is bounded, so a peer that accepts and never answers cannot outlast the deadline.
      const res = await fetch(url, { signal: AbortSignal.timeout(Math.max(1, Math.min(2_000, deadline - Date.now()))) })
      if (res.status < 500) return
      last = new Error(`status ${res.status}`)
    } catch (err) { last = err }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer in ${timeoutMs} ms: ${String(last)}`)
}
