// The sign-in providers, read from the environment by loadConfig (pure: env in, settings out).
// OAUTH_PROVIDERS names them; each key K has its own OAUTH_<K>_* variables (docs/auth.md).
import { createPrivateKey } from 'node:crypto'
import { ConfigError } from '@holo/shared'

export type ProviderKind = 'oidc' | 'github'

/** Apple signs its client secret itself: a short JWT signed with the team's key (ES256). */
export interface AppleKey { teamId: string, keyId: string, privateKeyPem: string }

export interface GithubEndpoints { authorizeUrl: string, tokenUrl: string, apiUrl: string }

export interface ProviderSettings {
  /** The key in URLs and in `identities.provider`: `google`, `github`, `dev`. */
  key: string
  /** Shown on the sign-in screen. */
  name: string
  kind: ProviderKind
  /** OpenID Connect: the issuer, whose discovery document gives every endpoint. */
  issuer?: string
  github?: GithubEndpoints
  clientId: string
  clientSecret?: string
  apple?: AppleKey
  scopes: string[]
  /** Apple answers with a form POST when it is asked for the name or email. */
  responseMode?: 'form_post'
  enabled: boolean
}

interface Preset {
  name: string
  kind: ProviderKind
  issuer?: string
  scopes: string
  responseMode?: 'form_post'
}

const PRESETS: Record<string, Preset> = {
  google: { name: 'Google', kind: 'oidc', issuer: 'https://accounts.google.com', scopes: 'openid email profile' },
  apple: {
    name: 'Apple',
    kind: 'oidc',
    issuer: 'https://appleid.apple.com',
    scopes: 'openid email name',
    responseMode: 'form_post'
  },
  github: { name: 'GitHub', kind: 'github', scopes: 'read:user user:email' },
  dev: { name: 'Holo dev provider', kind: 'oidc', scopes: 'openid email profile' }
}

const GITHUB: GithubEndpoints = {
  authorizeUrl: 'https://github.com/login/oauth/authorize',
  tokenUrl: 'https://github.com/login/oauth/access_token',
  apiUrl: 'https://api.github.com'
}

export const PROVIDER_KEY_PATTERN = '^[a-z][a-z0-9-]{0,31}$'
const KEY = new RegExp(PROVIDER_KEY_PATTERN)

/** `OAUTH_<KEY>_` for a key: upper case, `-` as `_`. */
export const envPrefix = (key: string): string => `OAUTH_${key.toUpperCase().replace(/-/g, '_')}_`

const isLoopback = (u: URL): boolean => ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)

function httpUrl (name: string, value: string): URL {
  let u: URL
  try { u = new URL(value) } catch { throw new ConfigError(`config: ${name} is not a URL`) }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ConfigError(`config: ${name} must be http(s)`)
  return u
}

function bool (name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback
  if (/^(true|1|yes)$/i.test(value)) return true
  if (/^(false|0|no)$/i.test(value)) return false
  throw new ConfigError(`config: ${name} must be true or false`)
}

/**
 * The providers OAUTH_PROVIDERS names, each from its OAUTH_<KEY>_* variables. In production an http issuer or
 * endpoint, and the development provider (`dev`), refuse to start.
 */
export function providerSettings (env: Record<string, string | undefined>, production: boolean): ProviderSettings[] {
  const keys = (env.OAUTH_PROVIDERS ?? '').split(',').map((k) => k.trim()).filter((k) => k !== '')
  const out: ProviderSettings[] = []
  for (const key of keys) {
    if (!KEY.test(key)) throw new ConfigError(`config: OAUTH_PROVIDERS has an invalid key "${key}" (a-z, 0-9, -)`)
    if (out.some((p) => p.key === key)) throw new ConfigError(`config: OAUTH_PROVIDERS names "${key}" twice`)
    if (production && key === 'dev') {
      throw new ConfigError('config: refusing to start in production: the development sign-in provider (dev)')
    }
    const prefix = envPrefix(key)
    const v = (name: string): string | undefined => {
      const raw = env[prefix + name]
      return raw === undefined || raw.trim() === '' ? undefined : raw.trim()
    }
    const preset = PRESETS[key]
    const kindRaw = v('TYPE') ?? preset?.kind ?? 'oidc'
    if (kindRaw !== 'oidc' && kindRaw !== 'github') {
      throw new ConfigError(`config: ${prefix}TYPE must be oidc or github`)
    }
    const kind: ProviderKind = kindRaw
    const clientId = v('CLIENT_ID')
    if (clientId === undefined) throw new ConfigError(`config: ${prefix}CLIENT_ID is missing`)
    const defaultScopes = (kind === 'github' ? PRESETS.github?.scopes : preset?.scopes) ?? 'openid email profile'
    const scopes = (v('SCOPES') ?? defaultScopes).split(/[\s,]+/).filter((s) => s !== '')
    const settings: ProviderSettings = {
      key,
      name: v('NAME') ?? preset?.name ?? key.charAt(0).toUpperCase() + key.slice(1),
      kind,
      clientId,
      scopes,
      enabled: bool(`${prefix}ENABLED`, v('ENABLED'), true)
    }
    const secret = v('CLIENT_SECRET')
    if (secret !== undefined) settings.clientSecret = secret
    const urls: Array<[string, URL]> = []
    if (kind === 'oidc') {
      const issuer = v('ISSUER') ?? (kind === preset?.kind ? preset.issuer : undefined)
      if (issuer === undefined) {
        throw new ConfigError(`config: ${prefix}ISSUER is missing (an OpenID Connect issuer URL)`)
      }
      urls.push([`${prefix}ISSUER`, httpUrl(`${prefix}ISSUER`, issuer)])
      settings.issuer = issuer
      if (!scopes.includes('openid')) throw new ConfigError(`config: ${prefix}SCOPES must include openid`)
      const mode = v('RESPONSE_MODE') ?? preset?.responseMode
      if (mode !== undefined && mode !== 'form_post' && mode !== 'query') {
        throw new ConfigError(`config: ${prefix}RESPONSE_MODE must be query or form_post`)
      }
      if (mode === 'form_post') settings.responseMode = 'form_post'
    } else {
      const github: GithubEndpoints = {
        authorizeUrl: v('AUTHORIZE_URL') ?? GITHUB.authorizeUrl,
        tokenUrl: v('TOKEN_URL') ?? GITHUB.tokenUrl,
        apiUrl: (v('API_URL') ?? GITHUB.apiUrl).replace(/\/$/, '')
      }
      for (const [name, value] of [['AUTHORIZE_URL', github.authorizeUrl], ['TOKEN_URL', github.tokenUrl],
        ['API_URL', github.apiUrl]] as const) urls.push([prefix + name, httpUrl(prefix + name, value)])
      settings.github = github
    }
    const teamId = v('APPLE_TEAM_ID')
    const keyId = v('APPLE_KEY_ID')
    const privateKey = v('APPLE_PRIVATE_KEY')
    if (teamId !== undefined || keyId !== undefined || privateKey !== undefined) {
      if (teamId === undefined || keyId === undefined || privateKey === undefined) {
        throw new ConfigError(`config: ${prefix}APPLE_TEAM_ID, ${prefix}APPLE_KEY_ID and ${prefix}APPLE_PRIVATE_KEY ` +
          'must be set together')
      }
      // Platforms that pass one-line values: `\n` escapes stand for new lines.
      const privateKeyPem = privateKey.replace(/\\n/g, '\n')
      let ec = false
      try { ec = createPrivateKey(privateKeyPem).asymmetricKeyType === 'ec' } catch {}
      if (!ec) throw new ConfigError(`config: ${prefix}APPLE_PRIVATE_KEY is not an EC private key (PEM, PKCS#8)`)
      settings.apple = { teamId, keyId, privateKeyPem }
    }
    if (settings.clientSecret === undefined && settings.apple === undefined) {
      throw new ConfigError(`config: ${prefix}CLIENT_SECRET is missing` +
        (key === 'apple' ? ` (or ${prefix}APPLE_TEAM_ID, _KEY_ID and _PRIVATE_KEY)` : ''))
    }
    if (production) {
      for (const [name, u] of urls) {
        if (u.protocol !== 'https:') {
          throw new ConfigError(`config: refusing to start in production: ${name} must be https`)
        }
      }
    }
    out.push(settings)
  }
  return out
}

/** One allowed `redirectTo`: an exact origin (`https://app.holo.cards`) or an app's own scheme (`holo:`). */
export type RedirectRule = { origin: string } | { scheme: string }

/**
 * OAUTH_REDIRECT_ALLOWLIST (comma-separated origins and schemes); empty means PUBLIC_URL's origin only.
 * In production an http origin other than loopback (RFC 8252 §7.3) refuses to start.
 */
export function redirectAllowlist (raw: string, publicUrl: string, production: boolean): RedirectRule[] {
  const entries = raw.split(',').map((e) => e.trim()).filter((e) => e !== '')
  if (entries.length === 0) return [{ origin: new URL(publicUrl).origin }]
  return entries.map((entry): RedirectRule => {
    const scheme = /^([a-z][a-z0-9+.-]*):(\/\/)?$/i.exec(entry)
    if (scheme !== null) {
      const s = `${(scheme[1] ?? '').toLowerCase()}:`
      if (s === 'http:' || s === 'https:' || s === 'javascript:' || s === 'data:' || s === 'file:') {
        throw new ConfigError(`config: OAUTH_REDIRECT_ALLOWLIST: "${entry}" may not be allowed as a whole scheme`)
      }
      return { scheme: s }
    }
    const u = httpUrl('OAUTH_REDIRECT_ALLOWLIST', entry)
    if (u.origin !== entry.replace(/\/$/, '')) {
      throw new ConfigError(`config: OAUTH_REDIRECT_ALLOWLIST: "${entry}" must be an origin (scheme://host[:port])`)
    }
    if (production && u.protocol === 'http:' && !isLoopback(u)) {
      throw new ConfigError('config: refusing to start in production: ' +
        `OAUTH_REDIRECT_ALLOWLIST has http origin ${entry}`)
    }
    return { origin: u.origin }
  })
}
