// The sign-in providers behind one small interface the service owns: OpenID Connect (any issuer, by discovery;
// Google and Apple are presets) and GitHub (OAuth 2 plus its user and email API). The protocol work (PKCE, state,
// nonce, the code grant, ID token signature/iss/aud/nonce/expiry checks) is openid-client's; this file maps its
// outcomes onto the error catalogue.
import { createPrivateKey, sign, type KeyObject } from 'node:crypto'
import * as oidc from 'openid-client'
import { commonErrors } from '@holo/shared'
import { errors } from '../../errors.js'
import type { ProviderSettings } from './oauth.settings.js'

/** What a provider tells about the account that signed in. */
export interface ProviderProfile {
  /** The provider's stable id of the account (`sub`; GitHub's numeric id). */
  subject: string
  email: string | null
  emailVerified: boolean
  name: string | null
  /** A handle to derive a username from (GitHub's login, `preferred_username`). */
  username: string | null
  picture: string | null
}

/** The per-sign-in secrets, kept server-side (Redis) between start and callback. */
export interface FlowSecrets { state: string, nonce: string, codeVerifier: string }

/** The provider's answer as it reached the callback: a GET's query or a form POST's fields. */
export interface CallbackInput { method: 'GET' | 'POST', params: URLSearchParams }

export interface SignInProvider {
  readonly settings: ProviderSettings
  /** The provider's authorization URL for one sign-in (S256 challenge of `codeVerifier`, `state`, `nonce`). */
  authorizationUrl: (flow: FlowSecrets, redirectUri: string) => Promise<URL>
  /** Checks the answer against the flow, redeems the code and returns the account; provider tokens are dropped. */
  complete: (answer: CallbackInput, flow: FlowSecrets, redirectUri: string) => Promise<ProviderProfile>
}

export interface ProviderOptions {
  timeoutMs: number
  /** Allows http issuers and endpoints (development and tests; production refuses them at start). */
  allowHttp: boolean
}

export function createProvider (settings: ProviderSettings, o: ProviderOptions): SignInProvider {
  return settings.kind === 'github' ? new GithubProvider(settings, o) : new OidcProvider(settings, o)
}

const str = (v: unknown): string | null => typeof v === 'string' && v !== '' ? v : null
/** A provider's text as stored: no control characters (PostgreSQL refuses NUL), bounded. */
const text = (v: unknown, max: number): string | null => {
  const s = str(v)?.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, max)
  return s === undefined || s === '' ? null : s
}
/** An address worth keeping: one @, no blanks or control characters, at most 254 characters (RFC 5321). */
const emailOf = (v: unknown): string | null => {
  const s = str(v)
  return s !== null && s.length <= 254 && /^[^\s@\u0000-\u001f]+@[^\s@\u0000-\u001f]+$/.test(s) ? s : null
}
/** Apple sends `email_verified` as the string "true". */
const truthy = (v: unknown): boolean => v === true || v === 'true'
/** Provider error codes are shown to clients: only the RFC 6749 alphabet gets through. */
const safeCode = (v: unknown): string => typeof v === 'string' && /^[a-z0-9_.-]{1,64}$/i.test(v) ? v : 'error'

/**
 * openid-client's outcome as a catalogued error: the provider unreachable, slow or failing is a 503 naming it;
 * an answer that fails a check (state, code, ID token) is a 400 naming the check.
 */
export function providerFailure (key: string, err: unknown): Error {
  if (err instanceof oidc.AuthorizationResponseError) return errors.OAUTH_PROVIDER_ERROR(key, safeCode(err.error))
  if (err instanceof oidc.ResponseBodyError) {
    if (err.status >= 500 || err.error === 'invalid_client' || err.error === 'unauthorized_client') {
      return unavailable(key, err)
    }
    return errors.OAUTH_CODE_REJECTED(key, safeCode(err.error))
  }
  if (err instanceof oidc.WWWAuthenticateChallengeError) return errors.OAUTH_RESPONSE_INVALID(key)
  if (err instanceof TypeError) return unavailable(key, err) // fetch failed: refused, reset, DNS
  if (err instanceof oidc.ClientError) {
    const cause = err.cause as { message?: string, cause?: { claim?: string }, status?: number } | undefined
    switch (err.code) {
      case 'OAUTH_TIMEOUT':
      case 'OAUTH_ABORT':
      case 'OAUTH_RESPONSE_IS_NOT_JSON':
        return unavailable(key, err)
      case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
        return unavailable(key, err)
      case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED': {
        const claim = cause?.cause?.claim ?? 'a claim'
        const what: Record<string, string> = {
          nonce: 'its nonce does not match this sign-in',
          aud: 'it was issued for another client (audience)',
          azp: 'it was issued for another client (azp)',
          iss: 'it was issued by another issuer'
        }
        return errors.OAUTH_ID_TOKEN_INVALID(key, what[claim] ?? `unexpected ${claim}`)
      }
      case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED': {
        const claim = cause?.cause?.claim
        const problem = claim === 'exp' ? 'it has expired' : `its ${claim ?? 'time'} is out of range`
        return errors.OAUTH_ID_TOKEN_INVALID(key, problem)
      }
      case 'OAUTH_KEY_SELECTION_FAILED':
        return errors.OAUTH_ID_TOKEN_INVALID(key, 'it is signed by a key the provider does not publish')
      case 'OAUTH_INVALID_RESPONSE':
        if (/signature/i.test(cause?.message ?? '')) {
          return errors.OAUTH_ID_TOKEN_INVALID(key, 'its signature does not verify with the provider\'s keys')
        }
        return errors.OAUTH_RESPONSE_INVALID(key)
      case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
        if (/state/i.test(err.message + (cause?.message ?? ''))) return errors.OAUTH_STATE_INVALID('does not match')
        return errors.OAUTH_RESPONSE_INVALID(key)
      default:
        return errors.OAUTH_RESPONSE_INVALID(key)
    }
  }
  return err instanceof Error ? err : new Error(String(err))
}

/** A 503 naming the provider; the cause stays attached for the log. */
function unavailable (key: string, cause: unknown): Error {
  const e = commonErrors.DEPENDENCY_UNAVAILABLE(`oauth:${key}`,
    `The sign-in provider "${key}" is unavailable, try again shortly`)
  return Object.assign(e, { cause })
}

/** The answer as openid-client reads it: the callback URL (GET) or an equivalent form POST request. */
function answerOf (answer: CallbackInput, redirectUri: string): URL | Request {
  if (answer.method === 'GET') {
    const url = new URL(redirectUri)
    url.search = answer.params.toString()
    return url
  }
  return new Request(redirectUri, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: answer.params.toString()
  })
}

/** Apple's client secret: an ES256 JWT signed with the team's key, valid an hour (made again before it ends). */
export class AppleSecret {
  private readonly key: KeyObject
  private cached: { value: string, until: number } | null = null
  constructor (private readonly settings: ProviderSettings & { apple: NonNullable<ProviderSettings['apple']> }) {
    this.key = createPrivateKey(settings.apple.privateKeyPem)
  }

  value (): string {
    const now = Math.floor(Date.now() / 1000)
    if (this.cached !== null && this.cached.until > now) return this.cached.value
    const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')
    const header = enc({ alg: 'ES256', kid: this.settings.apple.keyId })
    const claims = enc({
      iss: this.settings.apple.teamId,
      iat: now,
      exp: now + 3600,
      aud: 'https://appleid.apple.com',
      sub: this.settings.clientId
    })
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key: this.key, dsaEncoding: 'ieee-p1363' })
    const value = `${header}.${claims}.${signature.toString('base64url')}`
    this.cached = { value, until: now + 3000 }
    return value
  }
}

function clientAuth (settings: ProviderSettings): oidc.ClientAuth {
  const { apple } = settings
  if (apple === undefined) return oidc.ClientSecretPost(settings.clientSecret)
  const secret = new AppleSecret({ ...settings, apple })
  return (_as, client, body) => {
    body.set('client_id', client.client_id)
    body.set('client_secret', secret.value())
  }
}

/** Any OpenID Connect provider, configured by discovery of its issuer (metadata cached after the first success). */
class OidcProvider implements SignInProvider {
  private config: Promise<oidc.Configuration> | null = null

  constructor (readonly settings: ProviderSettings, private readonly o: ProviderOptions) {}

  private async configuration (): Promise<oidc.Configuration> {
    const issuer = this.settings.issuer
    if (issuer === undefined) throw new Error(`provider ${this.settings.key} has no issuer`)
    this.config ??= oidc.discovery(new URL(issuer), this.settings.clientId, undefined, clientAuth(this.settings), {
      timeout: Math.max(1, Math.ceil(this.o.timeoutMs / 1000)),
      // The ID token's signature is checked against the provider's JWKS even though it came straight from the
      // token endpoint (openid-client skips that by default, as OpenID Connect Core §3.1.3.7 allows).
      execute: [oidc.enableNonRepudiationChecks, ...(this.o.allowHttp ? [oidc.allowInsecureRequests] : [])]
    }).catch((err: unknown) => {
      // Not cached: the next sign-in discovers again.
      this.config = null
      throw unavailable(this.settings.key, err)
    })
    return await this.config
  }

  async authorizationUrl (flow: FlowSecrets, redirectUri: string): Promise<URL> {
    const config = await this.configuration()
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.settings.scopes.join(' '),
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(flow.codeVerifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
      ...(this.settings.responseMode !== undefined ? { response_mode: this.settings.responseMode } : {})
    })
  }

  async complete (answer: CallbackInput, flow: FlowSecrets, redirectUri: string): Promise<ProviderProfile> {
    const config = await this.configuration()
    const key = this.settings.key
    let claims: oidc.IDToken | undefined
    let info: Record<string, unknown> = {}
    try {
      const tokens = await oidc.authorizationCodeGrant(config, answerOf(answer, redirectUri), {
        pkceCodeVerifier: flow.codeVerifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true
      })
      claims = tokens.claims()
      const userinfo = config.serverMetadata().userinfo_endpoint !== undefined
      if (claims !== undefined && str(claims.email) === null && userinfo) {
        // Some providers keep the email out of the ID token; the user info endpoint has it.
        info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)
      }
    } catch (err) {
      throw providerFailure(key, err)
    }
    if (claims === undefined) throw errors.OAUTH_ID_TOKEN_INVALID(key, 'the provider sent none')
    const c: Record<string, unknown> = { ...info, ...claims }
    // Apple sends the name only once, as a `user` JSON field of the first form POST.
    let name = str(c.name)
    const appleUser = answer.params.get('user')
    if (name === null && appleUser !== null) {
      try {
        const u = JSON.parse(appleUser) as { name?: { firstName?: string, lastName?: string } }
        name = str([u.name?.firstName, u.name?.lastName].filter((p) => typeof p === 'string').join(' '))
      } catch {}
    }
    return {
      subject: claims.sub,
      email: emailOf(c.email),
      emailVerified: truthy(c.email_verified),
      name: text(name, 64),
      username: text(c.preferred_username, 64) ?? text(c.nickname, 64),
      picture: text(c.picture, 2048)
    }
  }
}

interface GithubUser { id: number, login: string, name: string | null, avatar_url: string | null, email: string | null }
interface GithubEmail { email: string, primary: boolean, verified: boolean }

/**
 * GitHub: OAuth 2 (no ID token) with PKCE and state, then its REST API for the user and their emails. GitHub
 * answers token errors with 200 and an `error` field; a fetch wrapper gives them a 400 so they read like RFC 6749's.
 */
class GithubProvider implements SignInProvider {
  private readonly config: oidc.Configuration

  constructor (readonly settings: ProviderSettings, private readonly o: ProviderOptions) {
    const gh = settings.github
    if (gh === undefined) throw new Error(`provider ${settings.key} has no GitHub endpoints`)
    this.config = new oidc.Configuration({
      issuer: new URL(gh.authorizeUrl).origin,
      authorization_endpoint: gh.authorizeUrl,
      token_endpoint: gh.tokenUrl
    }, settings.clientId, undefined, clientAuth(settings))
    this.config.timeout = Math.max(1, Math.ceil(o.timeoutMs / 1000))
    if (o.allowHttp) oidc.allowInsecureRequests(this.config)
    this.config[oidc.customFetch] = async (url, options) => {
      const res = await fetch(url, options as RequestInit)
      if (res.status !== 200 || url !== gh.tokenUrl) return res
      const body = await res.text()
      let parsed: { error?: unknown } = {}
      try { parsed = JSON.parse(body) as { error?: unknown } } catch {}
      const status = typeof parsed.error === 'string' ? 400 : 200
      return new Response(body, { status, headers: res.headers })
    }
  }

  async authorizationUrl (flow: FlowSecrets, redirectUri: string): Promise<URL> {
    return oidc.buildAuthorizationUrl(this.config, {
      redirect_uri: redirectUri,
      scope: this.settings.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(flow.codeVerifier),
      code_challenge_method: 'S256',
      state: flow.state,
      allow_signup: 'true'
    })
  }

  async complete (answer: CallbackInput, flow: FlowSecrets, redirectUri: string): Promise<ProviderProfile> {
    const key = this.settings.key
    let access: string
    try {
      const tokens = await oidc.authorizationCodeGrant(this.config, answerOf(answer, redirectUri), {
        pkceCodeVerifier: flow.codeVerifier,
        expectedState: flow.state
      })
      access = tokens.access_token
    } catch (err) {
      throw providerFailure(key, err)
    }
    const user = await this.api<GithubUser>(access, '/user')
    const emails = await this.api<GithubEmail[]>(access, '/user/emails')
    if (typeof user.id !== 'number' || !Array.isArray(emails)) throw errors.OAUTH_RESPONSE_INVALID(key)
    const primary = emails.find((e) => e.primary && e.verified) ?? emails.find((e) => e.verified) ??
      emails.find((e) => e.primary) ?? null
    const email = emailOf(primary?.email)
    return {
      subject: String(user.id),
      email: email ?? emailOf(user.email),
      emailVerified: email !== null && primary?.verified === true,
      name: text(user.name, 64),
      username: text(user.login, 64),
      picture: text(user.avatar_url, 2048)
    }
  }

  private async api<T> (accessToken: string, path: string): Promise<T> {
    const key = this.settings.key
    const gh = this.settings.github as NonNullable<ProviderSettings['github']>
    let res: Response
    try {
      res = await oidc.fetchProtectedResource(this.config, accessToken, new URL(gh.apiUrl + path), 'GET', undefined,
        new Headers({ accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' }))
    } catch (err) {
      throw providerFailure(key, err)
    }
    if (res.status >= 500 || res.status === 429) throw unavailable(key, new Error(`GitHub ${path}: ${res.status}`))
    if (res.status !== 200) throw errors.OAUTH_RESPONSE_INVALID(key)
    try {
      return await res.json() as T
    } catch {
      throw errors.OAUTH_RESPONSE_INVALID(key)
    }
  }
}
