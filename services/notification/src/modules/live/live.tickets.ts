// Stream tickets: a single-use random secret standing for a signed-in session for a few seconds, so clients
// that cannot set headers (EventSource) never put an access token in a URL. Kept in Redis under its hash.
import { createHash, randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'

/** Who a stream is for: from a verified access token or a ticket made from one. */
export interface StreamIdentity {
  userId: string
  sessionId: string
  /** The access token's expiry (epoch seconds): the stream ends with `reauth` then. */
  expiresAt: number
}

export class StreamTickets {
  constructor (
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number
  ) {}

  private key (ticket: string): string {
    return `${this.prefix}ticket:${createHash('sha256').update(ticket).digest('base64url')}`
  }

  /** A new ticket for the identity; lives `ttlSeconds` (less when the token expires sooner). */
  async issue (identity: StreamIdentity): Promise<{ ticket: string, expiresIn: number }> {
    const left = identity.expiresAt - Math.floor(Date.now() / 1000)
    const expiresIn = Math.max(1, Math.min(this.ttlSeconds, left))
    for (;;) {
      const ticket = randomBytes(32).toString('base64url')
      const set = await this.redis.set(this.key(ticket), JSON.stringify(identity), 'EX', expiresIn, 'NX')
      if (set === 'OK') return { ticket, expiresIn }
    }
  }

  /** The identity of a ticket, consuming it; null for an unknown, used or expired one. */
  async consume (ticket: string): Promise<StreamIdentity | null> {
    if (!/^[A-Za-z0-9_-]{16,128}$/.test(ticket)) return null
    const value = await this.redis.getdel(this.key(ticket))
    if (value === null) return null
    const identity = JSON.parse(value) as StreamIdentity
    return identity.expiresAt * 1000 > Date.now() ? identity : null
  }
}
