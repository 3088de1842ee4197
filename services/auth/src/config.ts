import { Type, type Static } from 'typebox'
import { eventsProducerEnv } from '@holo/events'
import {
  assertProductionSafe, baseEnv, ConfigError, DEFAULT_ISSUER, fileServiceEnv, parseEnv, roleRegistryEnv
} from '@holo/shared'
import {
  providerSettings, redirectAllowlist, type ProviderSettings, type RedirectRule
} from './modules/oauth/oauth.settings.js'

/** The development admin password the local stack uses; refused in production. */
export const DEV_ADMIN_PASSWORD = 'holo-dev-admin-password'

const seconds = (fallback: number, minimum = 1) => Type.Integer({ default: fallback, minimum })

export const EnvSchema = Type.Object({
  ...baseEnv({ port: 3001, schema: 'auth', role: 'holo_auth' }),
  ...eventsProducerEnv(),
  PUBLIC_URL: Type.String({ default: 'http://127.0.0.1:8080', pattern: '^https?://' }),
  AUTH_ISSUER: Type.String({ default: DEFAULT_ISSUER, minLength: 1 }),
  // The role → permissions registry this service writes from its `roles` table (every verifier reads it).
  ...roleRegistryEnv(),
  // Signing keys: a directory of <kid>.pem files and/or `kid:base64(PKCS#8 DER)` entries, comma-separated.
  AUTH_KEYS_DIR: Type.Optional(Type.String({ minLength: 1 })),
  AUTH_SIGNING_KEYS: Type.Optional(Type.String({ minLength: 1 })),
  AUTH_ACTIVE_KID: Type.Optional(Type.String({ minLength: 1 })),
  ACCESS_TOKEN_TTL_SECONDS: seconds(900, 30),
  REFRESH_TOKEN_TTL_SECONDS: seconds(30 * 24 * 3600, 60),
  REFRESH_REUSE_GRACE_SECONDS: seconds(10, 0),
  // Cookie mode's refresh cookie is `__Secure-holo_refresh` with Secure; `false` (plain-http development only,
  // refused in production) makes it `holo_refresh` without Secure.
  AUTH_COOKIE_SECURE: Type.Boolean({ default: true }),
  PASSWORD_RESET_TTL_SECONDS: seconds(1800, 60),
  EMAIL_VERIFICATION_TTL_SECONDS: seconds(48 * 3600, 60),
  // OWASP's argon2id minimum: 19 MiB, 2 iterations, 1 lane. Tests lower them.
  ARGON2_MEMORY_KIB: Type.Integer({ default: 19456, minimum: 8 }),
  ARGON2_TIME_COST: Type.Integer({ default: 2, minimum: 1 }),
  ARGON2_PARALLELISM: Type.Integer({ default: 1, minimum: 1 }),
  SMTP_URL: Type.String({ default: 'smtp://127.0.0.1:1025', pattern: '^smtps?://' }),
  MAIL_FROM: Type.String({ default: 'Holo Cards <no-reply@holo.cards>', minLength: 3 }),
  BOOTSTRAP_ADMIN_EMAIL: Type.Optional(Type.String({ pattern: '^[^@\\s]+@[^@\\s]+$' })),
  BOOTSTRAP_ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 10, maxLength: 128 })),
  RATE_LIMIT_WINDOW_SECONDS: seconds(900),
  RATE_LIMIT_LOGIN_PER_IP: Type.Integer({ default: 50, minimum: 1 }),
  // Failed logins per account and address: beyond it that pair gets 429 (Auth0's brute-force protection).
  RATE_LIMIT_LOGIN_PER_ACCOUNT_IP: Type.Integer({ default: 10, minimum: 1 }),
  // Failed logins per account from anywhere: beyond it unknown devices are slowed down, never refused,
  // so nobody can lock an owner out by failing on purpose.
  RATE_LIMIT_LOGIN_PER_ACCOUNT: Type.Integer({ default: 100, minimum: 1 }),
  // The first delay, doubled per further failure up to the maximum; below the gateway's 30 s read timeout.
  RATE_LIMIT_LOGIN_DELAY_MS: Type.Integer({ default: 1000, minimum: 0, maximum: 20000 }),
  RATE_LIMIT_LOGIN_MAX_DELAY_MS: Type.Integer({ default: 10000, minimum: 0, maximum: 20000 }),
  // How long a device (IP + user agent) stays known after a successful login.
  RATE_LIMIT_KNOWN_DEVICE_TTL_SECONDS: seconds(30 * 24 * 3600, 60),
  RATE_LIMIT_REGISTER_PER_IP: Type.Integer({ default: 20, minimum: 1 }),
  RATE_LIMIT_RESET_PER_IP: Type.Integer({ default: 20, minimum: 1 }),
  RATE_LIMIT_RESET_PER_ACCOUNT: Type.Integer({ default: 3, minimum: 1 }),
  // Social sign-in starts and code exchanges per IP and window (each start keeps a flow in Redis for a while).
  RATE_LIMIT_OAUTH_PER_IP: Type.Integer({ default: 300, minimum: 1 }),
  // Prefix of the rate-limit counters in Redis (tests give each app its own).
  RATE_LIMIT_NAMESPACE: Type.String({ default: 'auth:rl:', pattern: '^[A-Za-z0-9_.:-]*:$', maxLength: 100 }),
  // The file service, asked whether the caller may use a file (FILE_SERVICE_URL, FILE_SERVICE_TIMEOUT_MS).
  ...fileServiceEnv(),
  // Sign-in providers: their keys, comma-separated; each key K is configured by OAUTH_<K>_* (docs/auth.md).
  OAUTH_PROVIDERS: Type.String({ default: '', pattern: '^[a-z0-9, -]*$' }),
  // Where a sign-in may return: exact origins and app schemes, comma-separated; empty: PUBLIC_URL's origin.
  OAUTH_REDIRECT_ALLOWLIST: Type.String({ default: '' }),
  // The single-use Holo code a sign-in returns with, exchanged for tokens at POST /oauth/exchange.
  OAUTH_CODE_TTL_SECONDS: Type.Integer({ default: 60, minimum: 5, maximum: 600 }),
  // How long a started sign-in (its state, nonce and PKCE verifier) waits for the provider's answer.
  OAUTH_FLOW_TTL_SECONDS: Type.Integer({ default: 600, minimum: 60, maximum: 3600 }),
  // Each request to a provider (discovery, token, JWKS, user info) gives up after this long: then 503.
  OAUTH_HTTP_TIMEOUT_MS: Type.Integer({ default: 5000, minimum: 100, maximum: 30000 }),
  // A new account's picture (OIDC `picture`, GitHub `avatar_url`) is fetched and uploaded as its avatar.
  OAUTH_AVATAR_IMPORT: Type.Boolean({ default: true }),
  // The largest picture fetched (streamed; the fetch stops past it). At most the file service's default limit.
  OAUTH_AVATAR_MAX_BYTES: Type.Integer({ default: 5 * 1024 * 1024, minimum: 1024, maximum: 10 * 1024 * 1024 }),
  // The whole fetch (redirects and body), and then the upload to the file service, each give up after this long.
  OAUTH_AVATAR_TIMEOUT_MS: Type.Integer({ default: 5000, minimum: 100, maximum: 30000 }),
  // Lets picture URLs reach loopback addresses, over http too (tests and development only; refused in production).
  OAUTH_AVATAR_ALLOW_LOOPBACK: Type.Boolean({ default: false })
})

export type Env = Static<typeof EnvSchema>
export type Config = Env & {
  /** Every configured sign-in provider, enabled or not (from OAUTH_PROVIDERS and OAUTH_<KEY>_*). */
  oauthProviders: ProviderSettings[]
  /** Where a sign-in may return (OAUTH_REDIRECT_ALLOWLIST). */
  oauthRedirects: RedirectRule[]
}

export function loadConfig (env: Record<string, string | undefined>): Config {
  const parsed = parseEnv(EnvSchema, env)
  const production = parsed.NODE_ENV === 'production'
  const config: Config = {
    ...parsed,
    oauthProviders: providerSettings(env, production),
    oauthRedirects: redirectAllowlist(parsed.OAUTH_REDIRECT_ALLOWLIST, parsed.PUBLIC_URL, production)
  }
  assertProductionSafe(config.NODE_ENV, [
    [
      config.AUTH_KEYS_DIR === undefined && config.AUTH_SIGNING_KEYS === undefined,
      'no signing key configured (AUTH_KEYS_DIR or AUTH_SIGNING_KEYS)'
    ],
    [config.BOOTSTRAP_ADMIN_PASSWORD === DEV_ADMIN_PASSWORD, 'BOOTSTRAP_ADMIN_PASSWORD is the development default'],
    [config.ARGON2_MEMORY_KIB < 19456 || config.ARGON2_TIME_COST < 2, 'argon2 parameters below OWASP\'s minimum'],
    [!config.PUBLIC_URL.startsWith('https://'), 'PUBLIC_URL must be https'],
    [!config.AUTH_COOKIE_SECURE, 'AUTH_COOKIE_SECURE=false would send the refresh cookie over plain http'],
    [config.OAUTH_AVATAR_ALLOW_LOOPBACK, 'OAUTH_AVATAR_ALLOW_LOOPBACK lets sign-in providers\' picture URLs reach this host']
  ])
  if ((config.BOOTSTRAP_ADMIN_EMAIL === undefined) !== (config.BOOTSTRAP_ADMIN_PASSWORD === undefined)) {
    throw new ConfigError('config: BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_PASSWORD must be set together')
  }
  if (config.RATE_LIMIT_LOGIN_DELAY_MS > config.RATE_LIMIT_LOGIN_MAX_DELAY_MS) {
    throw new ConfigError('config: RATE_LIMIT_LOGIN_DELAY_MS must not exceed RATE_LIMIT_LOGIN_MAX_DELAY_MS')
  }
  if (config.RATE_LIMIT_LOGIN_PER_ACCOUNT < config.RATE_LIMIT_LOGIN_PER_ACCOUNT_IP) {
    throw new ConfigError('config: RATE_LIMIT_LOGIN_PER_ACCOUNT must be at least RATE_LIMIT_LOGIN_PER_ACCOUNT_IP')
  }
  return config
}
