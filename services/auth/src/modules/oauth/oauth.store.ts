// Short-lived sign-in state in Redis: started flows (by state), link tickets and Holo codes. Every key is taken
// with GETDEL, so each is used at most once even under races; none holds a provider token.
import type { Redis } from 'ioredis'
import { sha256 } from '../accounts/accounts.core.js'
import type { ProviderProfile } from './oauth.providers.js'

/** A sign-in between start and callback. */
export interface FlowRecord {
  provider: string
  state: string
  nonce: string
  codeVerifier: string
  redirectTo: string
  /** SHA-256 of the browser's binding cookie: the callback must come from the browser that started. */
  binding: string
  /** The client's own PKCE challenge (S256): only its verifier can exchange the Holo code. */
  clientChallenge: string | null
  /** Set for a link: the account the identity is for. */
  linkUserId: string | null
}

/** What a Holo code stands for: a sign-in to exchange for tokens, or an identity to link. */
export type CodeRecord =
  | { kind: 'sign-in', userId: string, provider: string, clientChallenge: string | null }
  | { kind: 'link', userId: string, provider: string, clientChallenge: string | null, profile: ProviderProfile }

export interface LinkTicket { userId: string, provider: string }

const PREFIX = 'auth:oauth:'

export class OAuthStore {
  constructor (private readonly redis: Redis) {}

  private async put (kind: string, secret: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.redis.set(`${PREFIX}${kind}:${sha256(secret)}`, JSON.stringify(value), 'EX', ttlSeconds)
  }

  private async take<T> (kind: string, secret: string): Promise<T | null> {
    const raw = await this.redis.getdel(`${PREFIX}${kind}:${sha256(secret)}`)
    return raw === null ? null : JSON.parse(raw) as T
  }

  async saveFlow (flow: FlowRecord, ttlSeconds: number): Promise<void> {
    await this.put('flow', flow.state, flow, ttlSeconds)
  }

  async takeFlow (state: string): Promise<FlowRecord | null> { return await this.take<FlowRecord>('flow', state) }

  async saveCode (code: string, record: CodeRecord, ttlSeconds: number): Promise<void> {
    await this.put('code', code, record, ttlSeconds)
  }

  async takeCode (code: string): Promise<CodeRecord | null> { return await this.take<CodeRecord>('code', code) }

  async saveLinkTicket (ticket: string, record: LinkTicket, ttlSeconds: number): Promise<void> {
    await this.put('link', ticket, record, ttlSeconds)
  }

  async takeLinkTicket (ticket: string): Promise<LinkTicket | null> {
    return await this.take<LinkTicket>('link', ticket)
  }
}
