import { createHash, randomBytes } from 'node:crypto'
import * as oidc from 'openid-client'
import type { AuthUser } from '@holo/shared'
import { errors } from '../../errors.js'
import {
  newOpaqueToken, normaliseEmail, sha256, type AccountsCore, type RequestContext
} from '../accounts/accounts.core.js'
import { emailVerified, userRegistered } from '../accounts/accounts.events.js'
import type { UserRow } from '../accounts/accounts.repository.js'
import type { IssuedTokens, SessionsService } from '../accounts/sessions.service.js'
import type { SignInMode } from '../accounts/accounts.schemas.js'
import type { AuthMetrics } from '../../metrics.js'
import { IdentityConflictError, type IdentitiesRepository, type IdentityRow } from './identities.repository.js'
import type { AvatarImporter } from './oauth.avatar.js'
import type { CallbackInput, ProviderProfile, SignInProvider } from './oauth.providers.js'
import type { RedirectRule } from './oauth.settings.js'
import type { CodeRecord, OAuthStore } from './oauth.store.js'
import type { Identity, ProviderInfo } from './oauth.schemas.js'

export interface OAuthServiceOptions {
  providers: SignInProvider[]
  redirects: RedirectRule[]
  /** PUBLIC_URL: the callback each provider returns to is `<PUBLIC_URL>/api/v1/auth/oauth/<key>/callback`. */
  publicUrl: string
  codeTtlSeconds: number
  flowTtlSeconds: number
  /** Imports a new account's provider picture as its avatar, after the account is committed; null: off. */
  avatars: AvatarImporter | null
}

export interface StartInput {
  redirectTo: string
  /** The client's own PKCE challenge (S256, RFC 7636), for apps (RFC 8252). */
  codeChallenge?: string
  /** A link ticket from POST /oauth/{provider}/link. */
  linkTicket?: string
}

/** SHA-256 of a PKCE verifier, base64url: the S256 challenge. */
const s256 = (verifier: string): string => createHash('sha256').update(verifier).digest('base64url')

const toIdentity = (i: IdentityRow): Identity => ({
  id: i.id,
  provider: i.provider,
  email: i.email,
  emailVerified: i.emailVerified,
  createdAt: i.createdAt.toISOString(),
  lastUsedAt: i.lastUsedAt?.toISOString() ?? null
})

/** Social sign-in and identities: the rules (takeover, last method, disabled users); knows nothing of HTTP. */
export class OAuthService {
  private readonly byKey: Map<string, SignInProvider>

  constructor (
    private readonly core: AccountsCore,
    private readonly identities: IdentitiesRepository,
    private readonly store: OAuthStore,
    private readonly sessions: SessionsService,
    private readonly metrics: AuthMetrics,
    private readonly o: OAuthServiceOptions
  ) {
    this.byKey = new Map(o.providers.map((p) => [p.settings.key, p]))
  }

  /** The enabled providers, for the sign-in screen. */
  list (): ProviderInfo[] {
    return this.o.providers.filter((p) => p.settings.enabled).map((p) => ({
      key: p.settings.key,
      name: p.settings.name,
      kind: p.settings.kind,
      startUrl: `/api/v1/auth/oauth/${p.settings.key}/start`
    }))
  }

  /** An enabled provider by key: 404 for an unknown key, 403 for a disabled one. */
  provider (key: string): SignInProvider {
    const p = this.byKey.get(key)
    if (p === undefined) throw errors.OAUTH_PROVIDER_UNKNOWN(key)
    if (!p.settings.enabled) throw errors.OAUTH_PROVIDER_DISABLED(key)
    return p
  }

  redirectUri (key: string): string {
    return `${this.o.publicUrl.replace(/\/$/, '')}/api/v1/auth/oauth/${key}/callback`
  }

  /** Whether `redirectTo` is an allowed return address: an allowed origin or app scheme, nothing else. */
  allowedRedirect (redirectTo: string): boolean {
    let u: URL
    try { u = new URL(redirectTo) } catch { return false }
    if (u.username !== '' || u.password !== '' || u.hash !== '') return false
    return this.o.redirects.some((r) => 'origin' in r
      ? (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === r.origin
      : u.protocol === r.scheme)
  }

  /**
   * Starts a sign-in (or a link, with a ticket): checks everything before any redirect, keeps the secrets in
   * Redis under the state, and returns the provider's URL. `binding` is the browser's cookie value.
   */
  async start (key: string, input: StartInput, binding: string): Promise<URL> {
    const provider = this.provider(key)
    if (!this.allowedRedirect(input.redirectTo)) throw errors.REDIRECT_NOT_ALLOWED('querystring')
    let linkUserId: string | null = null
    if (input.linkTicket !== undefined) {
      const ticket = await this.store.takeLinkTicket(input.linkTicket)
      if (ticket === null || ticket.provider !== key) throw errors.OAUTH_LINK_TICKET_INVALID()
      linkUserId = ticket.userId
    }
    const flow = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier()
    }
    // Discovery happens here: a provider that is down is a 503 before anything is stored.
    const url = await provider.authorizationUrl(flow, this.redirectUri(key))
    await this.store.saveFlow({
      provider: key,
      ...flow,
      redirectTo: input.redirectTo,
      binding: sha256(binding),
      clientChallenge: input.codeChallenge ?? null,
      linkUserId
    }, this.o.flowTtlSeconds)
    return url
  }

  /** A one-time ticket that starts a link flow for the caller in a browser (the caller's token stays in the app). */
  async linkTicket (caller: AuthUser, key: string, redirectTo: string, codeChallenge?: string): Promise<string> {
    this.provider(key)
    if (!this.allowedRedirect(redirectTo)) throw errors.REDIRECT_NOT_ALLOWED('body')
    await this.core.activeUser(caller.id)
    const ticket = newOpaqueToken()
    await this.store.saveLinkTicket(ticket, { userId: caller.id, provider: key }, this.o.flowTtlSeconds)
    const q = new URLSearchParams({ redirectTo, linkTicket: ticket })
    if (codeChallenge !== undefined) {
      q.set('code_challenge', codeChallenge)
      q.set('code_challenge_method', 'S256')
    }
    return `/api/v1/auth/oauth/${key}/start?${q.toString()}`
  }

  /**
   * The provider's answer: the state must be live, of this provider and of this browser; the code is redeemed
   * and the ID token checked (openid-client); then the account is found, linked or made. Returns where to send
   * the browser: `redirectTo` with a single-use Holo code.
   */
  async callback (key: string, answer: CallbackInput, binding: string | null, ctx: RequestContext): Promise<string> {
    const provider = this.provider(key)
    const state = answer.params.get('state')
    if (state === null || state === '') throw errors.OAUTH_STATE_INVALID('is missing')
    const flow = await this.store.takeFlow(state)
    if (flow === null || flow.provider !== key) throw errors.OAUTH_STATE_INVALID('is unknown, expired or already used')
    if (binding === null || sha256(binding) !== flow.binding) {
      throw errors.OAUTH_STATE_INVALID('belongs to a sign-in started in another browser')
    }
    let profile: ProviderProfile
    try {
      profile = await provider.complete(answer, flow, this.redirectUri(key))
    } catch (err) {
      this.metrics.oauth(key, 'failed')
      const details = { provider: key, code: (err as { code?: string }).code ?? 'error' }
      await this.core.audit(ctx, { event: 'oauth.failed', details })
      throw err
    }
    let record: CodeRecord
    if (flow.linkUserId !== null) {
      record = { kind: 'link', userId: flow.linkUserId, provider: key, clientChallenge: flow.clientChallenge, profile }
      this.metrics.oauth(key, 'link')
    } else {
      let resolved: { user: UserRow, registered: boolean }
      try {
        resolved = await this.resolve(key, profile, ctx)
      } catch (err) {
        this.metrics.oauth(key, 'refused')
        throw err
      }
      this.metrics.oauth(key, resolved.registered ? 'registered' : 'signed_in')
      record = { kind: 'sign-in', userId: resolved.user.id, provider: key, clientChallenge: flow.clientChallenge }
    }
    const code = newOpaqueToken()
    await this.store.saveCode(code, record, this.o.codeTtlSeconds)
    const back = new URL(flow.redirectTo)
    back.searchParams.set('code', code)
    return back.toString()
  }

  /**
   * The account of a provider's profile: its identity's account; else, by email, an existing account (only when
   * both emails are verified: the takeover rule); else a new account.
   */
  private async resolve (
    key: string,
    p: ProviderProfile,
    ctx: RequestContext
  ): Promise<{ user: UserRow, registered: boolean }> {
    const known = await this.identities.find(key, p.subject)
    if (known !== null) {
      const user = await this.core.repo.findUserById(known.userId)
      if (user === null) throw errors.USER_NOT_FOUND()
      if (user.disabledAt !== null) {
        const details = { reason: 'disabled', provider: key }
        await this.core.audit(ctx, { event: 'login.failed', targetId: user.id, details })
        throw errors.ACCOUNT_DISABLED()
      }
      await this.identities.touch(known.id, p.email === null ? known.email : normaliseEmail(p.email), p.emailVerified)
      return { user, registered: false }
    }
    if (p.email === null) throw errors.OAUTH_EMAIL_REQUIRED(key)
    const email = normaliseEmail(p.email)
    const identity = { provider: key, subject: p.subject, email, emailVerified: p.emailVerified }
    const existing = await this.core.repo.findUserByEmail(email)
    if (existing !== null) {
      if (existing.disabledAt !== null) throw errors.ACCOUNT_DISABLED()
      // The account-takeover door: an unverified address on either side proves nothing about who owns it.
      if (!p.emailVerified || existing.emailVerifiedAt === null) {
        await this.core.audit(ctx, {
          event: 'oauth.link_refused',
          targetId: existing.id,
          details: {
            provider: key,
            providerEmailVerified: p.emailVerified,
            accountEmailVerified: existing.emailVerifiedAt !== null
          }
        })
        throw errors.OAUTH_ACCOUNT_EXISTS(key)
      }
      await this.addIdentity(existing.id, key, identity)
      await this.core.audit(ctx, {
        event: 'identity.linked',
        actorId: existing.id,
        targetId: existing.id,
        details: { provider: key, automatic: true }
      })
      return { user: existing, registered: false }
    }
    return { user: await this.register(key, p, email, identity, ctx), registered: true }
  }

  private async register (
    key: string,
    p: ProviderProfile,
    email: string,
    identity: { provider: string, subject: string, email: string, emailVerified: boolean },
    ctx: RequestContext
  ): Promise<UserRow> {
    const base = usernameBase(p, email)
    for (let attempt = 0; attempt < 6; attempt++) {
      const username = attempt === 0 ? base : `${base.slice(0, 27)}_${randomBytes(2).toString('hex')}`
      try {
        const { user } = await this.identities.createUserWithIdentity({
          email,
          username,
          displayName: p.name?.slice(0, 64) ?? null,
          ...(p.emailVerified ? { emailVerifiedAt: new Date() } : {})
        }, identity, (u) => [userRegistered(u), ...(p.emailVerified ? [emailVerified(u)] : [])])
        const details = { provider: key }
        await this.core.audit(ctx, { event: 'register', actorId: user.id, targetId: user.id, details })
        if (!p.emailVerified) await this.core.sendOneTimeToken(user, 'email_verification', ctx)
        this.importPicture(user, p.picture, ctx)
        return user
      } catch (err) {
        if (!(err instanceof IdentityConflictError)) throw err
        if (err.conflict === 'username') continue
        // Another sign-in made the account or the identity a moment ago: resolve again, now finding it.
        if (err.conflict === 'email') throw errors.OAUTH_ACCOUNT_EXISTS(key)
        throw errors.IDENTITY_TAKEN(key)
      }
    }
    throw errors.USERNAME_TAKEN()
  }

  /** The provider's picture becomes the new account's avatar, in the background: a sign-in never waits for it. */
  private importPicture (user: UserRow, picture: string | null, ctx: RequestContext): void {
    const avatars = this.o.avatars
    if (avatars === null || picture === null) return
    this.core.afterResponse(async () => { await avatars.run(user, picture, ctx) }, 'avatar import failed', ctx.log)
  }

  private async addIdentity (
    userId: string,
    key: string,
    identity: { provider: string, subject: string, email: string | null, emailVerified: boolean }
  ): Promise<IdentityRow> {
    try {
      return await this.identities.add(userId, identity)
    } catch (err) {
      if (!(err instanceof IdentityConflictError)) throw err
      throw err.conflict === 'provider-linked' ? errors.IDENTITY_PROVIDER_LINKED(key) : errors.IDENTITY_TAKEN(key)
      throw err
    }
  }

  /** Takes a Holo code (single use) and checks the client's PKCE verifier when the sign-in was started with one. */
  private async takeCode (kind: CodeRecord['kind'], code: string, codeVerifier?: string): Promise<CodeRecord> {
    const record = await this.store.takeCode(code)
    if (record === null || record.kind !== kind) throw errors.OAUTH_CODE_INVALID()
    const challenge = record.clientChallenge
    if (challenge !== null && (codeVerifier === undefined || s256(codeVerifier) !== challenge)) {
      throw errors.OAUTH_VERIFIER_MISMATCH()
    }
    return record
  }

  /** The Holo code of a sign-in, exchanged for the usual tokens (a new session whose provider is the key). */
  async exchange (
    code: string,
    codeVerifier: string | undefined,
    ctx: RequestContext,
    mode?: SignInMode
  ): Promise<IssuedTokens> {
    const record = await this.takeCode('sign-in', code, codeVerifier)
    const user = await this.core.repo.findUserById(record.userId)
    if (user === null) throw errors.OAUTH_CODE_INVALID()
    return await this.sessions.signInWith(user, record.provider, ctx, mode)
  }

  /** The Holo code of a link flow, confirmed by the signed-in account that started it. */
  async link (
    caller: AuthUser,
    code: string,
    codeVerifier: string | undefined,
    ctx: RequestContext
  ): Promise<Identity> {
    const record = await this.takeCode('link', code, codeVerifier)
    if (record.kind !== 'link' || record.userId !== caller.id) throw errors.OAUTH_CODE_INVALID()
    await this.core.activeUser(caller.id)
    const p = record.profile
    const same = await this.identities.find(record.provider, p.subject)
    if (same !== null && same.userId === caller.id) return toIdentity(same) // linked already: nothing to do
    const identity = await this.addIdentity(caller.id, record.provider, {
      provider: record.provider,
      subject: p.subject,
      email: p.email === null ? null : normaliseEmail(p.email),
      emailVerified: p.emailVerified
    })
    await this.core.audit(ctx, {
      event: 'identity.linked', actorId: caller.id, targetId: caller.id, details: { provider: record.provider }
    })
    return toIdentity(identity)
  }

  async identitiesOf (caller: AuthUser): Promise<Identity[]> {
    return (await this.identities.ofUser(caller.id)).map(toIdentity)
  }

  async unlink (caller: AuthUser, id: string, ctx: RequestContext): Promise<void> {
    const outcome = await this.identities.deleteUnlessLast(caller.id, id)
    if (outcome === 'not-found') throw errors.IDENTITY_NOT_FOUND()
    if (outcome === 'last') throw errors.LAST_SIGN_IN_METHOD()
    const details = { identityId: id }
    await this.core.audit(ctx, { event: 'identity.unlinked', actorId: caller.id, targetId: caller.id, details })
  }
}

/** A username from the provider's handle, else the email's local part: a-z, 0-9 and _, 3–32 characters. */
export function usernameBase (p: Pick<ProviderProfile, 'username' | 'name'>, email: string): string {
  const from = p.username ?? email.split('@')[0] ?? p.name ?? 'user'
  let base = from.toLowerCase().normalize('NFKD').replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 32)
  if (base.length < 3) base = `${base}_user`.replace(/^_/, '')
  return base
}
