import { createPublicKey } from 'node:crypto'

export interface KeyResolver {
  /** The PEM public key for a key id, or undefined when unknown. */
  get: (kid: string) => Promise<string | undefined>
}

export interface Jwk { kid?: string, kty: string, crv?: string, x?: string, y?: string, alg?: string, use?: string }

export function jwkToPem (jwk: Jwk): string {
  return createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString()
}

interface JwksStoreOptions {
  url: string
  /** How often known keys are refreshed in the background. */
  refreshMs?: number
  /** Least time between two fetches caused by unknown key ids. */
  unknownKidCooldownMs?: number
  fetchTimeoutMs?: number
  /** Delay before trying again after a failed fetch. */
  retryMs?: number
  onError?: (err: unknown) => void
}

/**
 * Public keys from the auth service's JWKS, kept in memory. A failed refresh
 * keeps the last good keys, so verification goes on while auth is briefly down;
 * an unknown kid triggers at most one fetch per cooldown (no fetch storms).
 */
export class JwksKeyStore implements KeyResolver {
  private keys = new Map<string, string>()
  private lastFetch = 0
  private lastFetchOk = false
  private stopped = false
  private inflight: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly o: JwksStoreOptions) {}

  start (): this {
    void this.refresh().catch(() => {})
    this.timer = setInterval(() => { void this.refresh().catch(() => {}) }, this.o.refreshMs ?? 5 * 60_000)
    this.timer.unref()
    return this
  }

  stop (): void {
    this.stopped = true
    clearInterval(this.timer)
  }

  async get (kid: string): Promise<string | undefined> {
    const known = this.keys.get(kid)
    if (known !== undefined) return known
    // After a failed fetch (auth not up yet, or down) the next try comes soon;
    // the long cooldown only guards a working JWKS against unknown-kid storms.
    const cooldown = this.lastFetchOk ? (this.o.unknownKidCooldownMs ?? 10_000) : (this.o.retryMs ?? 1000)
    if (Date.now() - this.lastFetch >= cooldown) {
      await this.refresh().catch(() => {})
    } else if (this.inflight !== undefined) {
      await this.inflight.catch(() => {})
    }
    return this.keys.get(kid)
  }

  refresh (): Promise<void> {
    this.inflight ??= this.fetchKeys().finally(() => { this.inflight = undefined })
    return this.inflight
  }

  private async fetchKeys (): Promise<void> {
    this.lastFetch = Date.now()
    try {
      const res = await fetch(this.o.url, { signal: AbortSignal.timeout(this.o.fetchTimeoutMs ?? 2000) })
      if (!res.ok) throw new Error(`JWKS answered ${res.status}`)
      const body = await res.json() as { keys?: Jwk[] }
      const next = new Map<string, string>()
      for (const jwk of body.keys ?? []) {
        if (jwk.kid !== undefined) next.set(jwk.kid, jwkToPem(jwk))
      }
      // The JWKS is authoritative: a key dropped from it (retired or compromised) stops verifying.
      this.keys = next
      this.lastFetchOk = true
    } catch (err) {
      this.lastFetchOk = false
      // With no key at all (a service started before auth), keep trying in the background.
      if (this.keys.size === 0 && !this.stopped) {
        setTimeout(() => { if (!this.stopped) void this.refresh().catch(() => {}) }, this.o.retryMs ?? 1000).unref()
      }
      this.o.onError?.(err)
      throw err
    }
  }
}
