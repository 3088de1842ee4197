import { Type } from 'typebox'

/** Variables every service reads; each service spreads these into its own schema. */
export function baseEnv (defaults: { port: number, schema: string, role: string }) {
  return {
    NODE_ENV: Type.Union(
      [Type.Literal('development'), Type.Literal('test'), Type.Literal('production')],
      { default: 'development' }
    ),
    HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
    PORT: Type.Integer({ default: defaults.port, minimum: 0, maximum: 65535 }),
    LOG_LEVEL: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' }
    ),
    DATABASE_URL: Type.String({
      default: `postgresql://${defaults.role}@127.0.0.1:5432/holo`,
      pattern: '^postgres(ql)?://'
    }),
    DATABASE_SCHEMA: Type.String({ default: defaults.schema, pattern: '^[a-z_][a-z0-9_]*$' }),
    DATABASE_POOL_SIZE: Type.Integer({ default: 10, minimum: 1, maximum: 200 }),
    REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379', pattern: '^rediss?://' }),
    // Who may set the client address with X-Forwarded-For: a hop count, or
    // addresses, CIDRs and the names loopback / linklocal / uniquelocal.
    TRUST_PROXY: Type.String({
      default: 'loopback',
      pattern: '^(\\d{1,2}|[0-9A-Za-z.:/]+(\\s*,\\s*[0-9A-Za-z.:/]+)*)$'
    })
  }
}

/** Variables of a service that verifies access tokens issued by the auth service. */
export function authVerifierEnv () {
  return {
    AUTH_JWKS_URL: Type.String({
      default: 'http://127.0.0.1:3001/api/v1/auth/.well-known/jwks.json',
      pattern: '^https?://'
    }),
    AUTH_ISSUER: Type.String({ default: 'holo-auth', minLength: 1 }),
    ...roleRegistryEnv()
  }
}

/** Where the role → permissions registry lives in Redis (the auth service writes it, every service reads it). */
export function roleRegistryEnv () {
  return {
    ROLES_REGISTRY_KEY: Type.String({ default: 'auth:roles', pattern: '^[A-Za-z0-9:_-]{1,64}$' })
  }
}

/** Variables of a service that asks the file service whether a caller may use a file. */
export function fileServiceEnv () {
  return {
    FILE_SERVICE_URL: Type.String({ default: 'http://127.0.0.1:3003', pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$' }),
    FILE_SERVICE_TIMEOUT_MS: Type.Integer({ default: 2000, minimum: 50, maximum: 30_000 })
  }
}
