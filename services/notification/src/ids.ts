// UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 12 bits used as a counter within one millisecond
// (method 1), then random bits. Ids made by one process only grow; inbox_heads extends that to every instance.
import { randomFillSync } from 'node:crypto'

let lastMs = 0
let counter = 0

/**
 * Random bytes are drawn 4 KiB at a time, as Node's randomUUID does: on these machines one small draw from the
 * system's generator (randomBytes, getRandomValues) costs about 7–11 µs, a pooled one a fraction of that.
 */
const pool = Buffer.alloc(4096)
let used = pool.length

/** 16 random bytes, valid until the next call (the pool's own memory). */
function random16 (): Buffer {
  if (used + 16 > pool.length) {
    randomFillSync(pool)
    used = 0
  }
  used += 16
  return pool.subarray(used - 16, used)
}

export function uuidv7 (now = Date.now()): string {
  const bytes = random16()
  if (now > lastMs) {
    lastMs = now
    counter = bytes.readUInt16BE(6) & 0x3ff
  } else {
    counter++
    if (counter > 0xfff) {
      lastMs++
      counter = 0
    }
  }
  bytes.writeUIntBE(lastMs, 0, 6)
  bytes[6] = 0x70 | (counter >> 8)
  bytes[7] = counter & 0xff
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f)
  return format(bytes)
}

/** The smallest UUIDv7 greater than `id` (a v7 id made after `id` on a slower clock is bumped past it). */
export function after (id: string): string {
  const bytes = Buffer.from(id.replace(/-/g, ''), 'hex')
  // Add one to the random tail (62 bits after the variant); a carry into the variant bits cannot happen in practice.
  for (let i = 15; i >= 8; i--) {
    const v = (bytes[i] ?? 0) + 1
    bytes[i] = v & 0xff
    if (v <= 0xff) break
  }
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f)
  bytes[6] = 0x70 | ((bytes[6] ?? 0) & 0x0f)
  return format(bytes)
}

export const ZERO_ID = '00000000-0000-0000-0000-000000000000'

function format (b: Buffer): string {
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
