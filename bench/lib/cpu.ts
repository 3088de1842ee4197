// CPU per request, by part of the stack: what one scenario's requests cost each service process, its
// PostgreSQL backends, nginx and Redis, in milliseconds of CPU per answered request. Throughput on these shared
// two-core machines moves with whatever else runs; CPU spent per request moves far less, and it says where a
// mix's time goes (a service, its database work, or the event consumers behind it).
//
// Read from /proc: utime + stime of each process at the scenario's start and end. Backends are found by
// pg_stat_activity in the bench database (role holo_<service> → `pg:<service>`); a backend that ended during
// the scenario is not counted. nginx is its master and workers. Redis is the machine's shared server, so its
// figure includes anything else that used it meanwhile.
import { execFileSync } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import pg from 'pg'
import { Redis } from 'ioredis'

/** Clock ticks per second of /proc's CPU times. */
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100

/** Part of the stack → process ids. */
type Parts = Map<string, number[]>
/** Process id → CPU ticks used so far. */
type Ticks = Map<number, number>

export interface CpuSnapshot { ticks: Ticks }

async function ticksOf (pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // The command name, in parentheses, may hold spaces: fields count from after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return undefined
  }
}

async function childrenOf (pid: number): Promise<number[]> {
  const found: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry))
    } catch {}
  }
  return found
}

export interface CpuMeterOptions {
  /** The stack's processes by name (bench-stack's pids: services, nginx, the baseline server). */
  pids: Record<string, number>
  /** The bench database, on a server the admin URL reaches. */
  adminUrl: string
  database: string
  redisUrl: string
}

export class CpuMeter {
  constructor (private readonly o: CpuMeterOptions) {}

  /** Every part's processes now (the backends change as pools grow and shrink). */
  private async parts (): Promise<Parts> {
    const parts: Parts = new Map()
    for (const [name, pid] of Object.entries(this.o.pids)) {
      if (pid <= 0) continue
      parts.set(name, name === 'nginx' ? [pid, ...await childrenOf(pid)] : [pid])
    }
    const db = new pg.Client({ connectionString: this.o.adminUrl })
    await db.connect()
    try {
      const { rows } = await db.query<{ pid: number, usename: string }>(
        'SELECT pid, usename FROM pg_stat_activity WHERE datname = $1 AND usename LIKE \'holo\\_%\'', [this.o.database])
      for (const r of rows) {
        const part = `pg:${r.usename.slice('holo_'.length)}`
        parts.set(part, [...parts.get(part) ?? [], r.pid])
      }
    } finally {
      await db.end()
    }
    const redis = new Redis(this.o.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
    redis.on('error', () => {})
    try {
      await redis.connect()
      const pid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1])
      if (pid > 0) parts.set('redis', [pid])
    } catch {} finally {
      redis.disconnect()
    }
    return parts
  }

  async start (): Promise<CpuSnapshot> {
    const ticks: Ticks = new Map()
    for (const pids of (await this.parts()).values()) {
      for (const pid of pids) {
        const t = await ticksOf(pid)
        if (t !== undefined) ticks.set(pid, t)
      }
    }
    return { ticks }
  }

  /**
   * Milliseconds of CPU per answered request since `since`, by part (largest first), plus `total`. A process
   * that started meanwhile counts from zero.
   */
  async perRequest (since: CpuSnapshot, requests: number): Promise<Record<string, number>> {
    const used: Array<[string, number]> = []
    for (const [part, pids] of await this.parts()) {
      let ticks = 0
      for (const pid of pids) {
        const t = await ticksOf(pid)
        if (t !== undefined) ticks += t - (since.ticks.get(pid) ?? 0)
      }
      if (ticks > 0) used.push([part, ticks])
    }
    const ms = (ticks: number): number => requests === 0 ? 0 : Math.round((ticks * 1000 / TICKS / requests) * 1000) / 1000
    used.sort((a, b) => b[1] - a[1])
    const total = used.reduce((sum, [, t]) => sum + t, 0)
    return { total: ms(total), ...Object.fromEntries(used.map(([part, t]) => [part, ms(t)])) }
  }
}

/** "1.92 ms: card 0.61, pg:card 0.44, analytics 0.2, …": the total, then each part of at least 0.01 ms. */
export function describeCpu (cpu: Record<string, number>): string {
  const parts = Object.entries(cpu).filter(([part, ms]) => part !== 'total' && ms >= 0.01)
  return `${cpu.total ?? 0} ms: ${parts.map(([part, ms]) => `${part} ${ms}`).join(', ')}`
}
