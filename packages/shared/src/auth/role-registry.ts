// Which permissions each role grants, as every service learns it at run time. The auth service owns the roles
// (its `roles` table) and mirrors them into Redis after each change: a hash (role → JSON array of permissions),
// a version (the table's change counter) and a pub/sub message. Each service loads the hash at start, reloads
// it on the message and also polls the version (a lost message or subscription still converges). While Redis
// is down the last map read stays in force; before any read, the built-in defaults do.
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import { BUILT_IN_ROLES, isPermission, type Permission } from './permissions.js'

export const DEFAULT_ROLE_REGISTRY_KEY = 'auth:roles'

/** The Redis keys of a registry: the hash, its version and the channel announcing a change. */
export const roleRegistryKeys = (key: string): { roles: string, version: string, channel: string } =>
  ({ roles: key, version: `${key}:version`, channel: `${key}:changed` })

export type RoleMap = ReadonlyMap<string, ReadonlySet<Permission>>

/** A role's permissions as stored: names this version does not know (a newer auth service's) are left out. */
function toSet (names: readonly string[]): ReadonlySet<Permission> {
  return new Set(names.filter(isPermission))
}

const builtIns = (): RoleMap => new Map(Object.entries(BUILT_IN_ROLES).map(([name, p]) => [name, toSet(p)]))

// Replaces the hash and the version at once, and announces it, unless Redis holds this version or a newer one
// (a slow writer never puts an older map back). `force` writes anyway: the auth service at start, whose table
// is the truth even when Redis outlived a database reset.
const WRITE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[2]) or '-1')
if ARGV[1] ~= '1' and current >= tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('PUBLISH', KEYS[3], ARGV[2])
return 1`

/** The auth service's side: writes the whole registry at `version`. Resolves true when it was written. */
export async function writeRoleRegistry (
  redis: Redis,
  key: string,
  version: number,
  roles: ReadonlyArray<{ name: string, permissions: readonly string[] }>,
  o: { force?: boolean } = {}
): Promise<boolean> {
  const k = roleRegistryKeys(key)
  const args = roles.flatMap((r) => [r.name, JSON.stringify(r.permissions)])
  const written = await redis.eval(WRITE_SCRIPT, 3, k.roles, k.version, k.channel,
    o.force === true ? '1' : '0', String(version), ...args)
  return written === 1
}

export interface RoleRegistryOptions {
  redis: Redis
  key?: string
  /** How often the version is polled (at most 2000 ms, so a missed message converges within 5 s). */
  pollMs?: number
  log: FastifyBaseLogger
}

/** The role → permissions map of one service, kept current from Redis. */
export class RoleRegistry {
  private roles: RoleMap = builtIns()
  private version: string | null = null
  /** Effective permissions per role set, for the current map: most callers hold one of a few sets. */
  private memo = new Map<string, ReadonlySet<Permission>>()
  private subscriber: Redis | undefined
  private timer: NodeJS.Timeout | undefined
  private refreshing: Promise<void> | undefined
  private lastWarning = 0
  private readonly keys: ReturnType<typeof roleRegistryKeys>

  constructor (private readonly o: RoleRegistryOptions) {
    this.keys = roleRegistryKeys(o.key ?? DEFAULT_ROLE_REGISTRY_KEY)
  }

  /** Loads the map (Redis down: the defaults stay), then follows changes by pub/sub and by polling. */
  async start (): Promise<void> {
    await this.refresh()
    const sub = this.o.redis.duplicate({ connectionName: 'holo-role-registry', lazyConnect: true })
    this.subscriber = sub
    sub.on('error', () => {})
    sub.on('message', () => { void this.refresh() })
    // On every (re)connection: subscribe, and read what may have changed while the connection was gone.
    sub.on('ready', () => {
      sub.subscribe(this.keys.channel).catch(() => {})
      void this.refresh()
    })
    sub.connect().catch(() => {})
    const pollMs = Math.min(this.o.pollMs ?? 1000, 2000)
    this.timer = setInterval(() => { void this.refresh() }, pollMs)
    this.timer.unref()
  }

  async close (): Promise<void> {
    clearInterval(this.timer)
    const sub = this.subscriber
    this.subscriber = undefined
    if (sub !== undefined) {
      sub.removeAllListeners('ready')
      try { await sub.quit() } catch { sub.disconnect() }
    }
  }

  /** The permissions the roles grant together (unknown roles grant nothing). */
  permissionsOf (roles: readonly string[]): ReadonlySet<Permission> {
    const memoKey = roles.join(',')
    const known = this.memo.get(memoKey)
    if (known !== undefined) return known
    const all = new Set<Permission>()
    for (const role of roles) for (const p of this.roles.get(role) ?? []) all.add(p)
    if (this.memo.size >= 10_000) this.memo.clear()
    this.memo.set(memoKey, all)
    return all
  }

  /** The version last loaded, null before any load. */
  get loadedVersion (): string | null { return this.version }

  /** Reads the version and, when it moved, the map (one refresh at a time). */
  async refresh (): Promise<void> {
    this.refreshing ??= this.load().finally(() => { this.refreshing = undefined })
    await this.refreshing
  }

  private async load (): Promise<void> {
    try {
      const version = await this.o.redis.get(this.keys.version)
      // Nothing written yet (a fresh Redis before the auth service started): keep what we have.
      if (version === null || version === this.version) return
      const result = await this.o.redis.multi().get(this.keys.version).hgetall(this.keys.roles).exec()
      type Reply<T> = [Error | null, T]
      const [[vErr, v], [hErr, hash]] = result as [Reply<string | null>, Reply<Record<string, string>>]
      if (vErr !== null || hErr !== null) throw vErr ?? hErr
      if (v === null) return
      const roles = new Map<string, ReadonlySet<Permission>>()
      for (const [name, json] of Object.entries(hash)) {
        const parsed: unknown = JSON.parse(json)
        if (Array.isArray(parsed)) roles.set(name, toSet(parsed.filter((p): p is string => typeof p === 'string')))
      }
      this.roles = roles
      this.version = v
      this.memo = new Map()
      this.o.log.info({ version: v, roles: roles.size }, 'role registry loaded')
    } catch (err) {
      const now = Date.now()
      if (now - this.lastWarning > 10_000) {
        this.lastWarning = now
        this.o.log.warn({ err }, 'role registry unavailable (Redis); keeping the permissions last loaded')
      }
    }
  }
}
