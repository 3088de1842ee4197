// Redis connections of the bus and the replies of the stream commands.
import type { Redis, RedisOptions } from 'ioredis'

export const DEFAULT_STREAM_PREFIX = 'events.'

/**
 * A connection of the bus's own, duplicated from the service's client (same
 * server and credentials) with the options the bus's guarantees rely on:
 * commands fail at once while Redis is down instead of queueing (the relay
 * must not hold its transaction open, the rows simply wait), and nothing is
 * re-sent behind our back after a reconnect (a publish is retried only by the
 * relay, from the outbox).
 */
export async function busConnection (
  redis: Redis, name: string, overrides: Partial<RedisOptions> = {}
): Promise<Redis> {
  const conn = redis.duplicate({
    connectionName: name,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableAutoPipelining: false,
    commandTimeout: 5000,
    retryStrategy: (times: number) => Math.min(times * 100, 2000),
    ...overrides
  })
  // Outages are reported by the commands that fail; the client keeps reconnecting.
  conn.on('error', () => {})
  await conn.connect().catch(() => {})
  return conn
}

export async function closeConnection (conn: Redis): Promise<void> {
  try {
    if (conn.status === 'ready') await conn.quit()
    else conn.disconnect()
  } catch {
    conn.disconnect()
  }
}

/** A stream entry as XRANGE, XREADGROUP, XCLAIM and XAUTOCLAIM return it. */
export interface StreamEntry { id: string, fields: Record<string, string> }

function text (v: unknown): string {
  return Buffer.isBuffer(v) ? v.toString() : String(v)
}

function entry (raw: unknown): StreamEntry | undefined {
  if (!Array.isArray(raw) || raw.length < 2) return undefined
  const [id, list] = raw as [unknown, unknown]
  // An entry trimmed away while pending comes back without fields.
  if (!Array.isArray(list)) return undefined
  const fields: Record<string, string> = {}
  for (let i = 0; i + 1 < list.length; i += 2) fields[text(list[i])] = text(list[i + 1])
  return { id: text(id), fields }
}

export function entries (raw: unknown): StreamEntry[] {
  if (!Array.isArray(raw)) return []
  return raw.map(entry).filter((e): e is StreamEntry => e !== undefined)
}

/**
 * XREADGROUP / XREAD: null on timeout, else per stream its entries. Over RESP2
 * that is [[stream, entries], ...]; over RESP3 (ioredis 6's default) a map,
 * which `call` hands back flat: [stream, entries, stream, entries].
 */
export function streamsReply (raw: unknown): Array<{ stream: string, entries: StreamEntry[] }> {
  if (!Array.isArray(raw)) return []
  const pairs: unknown[][] = []
  if (raw.length > 0 && !Array.isArray(raw[0])) {
    for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i], raw[i + 1]])
  } else {
    for (const s of raw) if (Array.isArray(s)) pairs.push(s)
  }
  return pairs.map(([name, list]) => ({ stream: text(name), entries: entries(list) }))
}

/** A flat [key, value, key, value] reply (XINFO) as an object. */
export function record (raw: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (!Array.isArray(raw)) return out
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const v: unknown = raw[i + 1]
    out[text(raw[i])] = Buffer.isBuffer(v) ? v.toString() : v
  }
  return out
}

export function isMissingGroup (err: unknown): boolean {
  return err instanceof Error && err.message.includes('NOGROUP')
}

export function isMissingKey (err: unknown): boolean {
  return err instanceof Error && /no such key/i.test(err.message)
}
