// Notification ids are UUIDv7 (RFC 9562): Unix milliseconds, then a sequence that keeps one process's ids
// growing within a millisecond and across a clock step back (the uuid package's v7, its random bits drawn from a
// pooled buffer), then random bits. inbox_heads extends the order to every instance.
import { v7 } from 'uuid'

export const uuidv7 = (): string => v7()

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
