// The access-token contract between the auth service (which signs) and every
// service (which verifies). One place, so the two sides cannot drift.

export const ACCESS_TOKEN_ALG = 'EdDSA'
export const ACCESS_TOKEN_AUDIENCE = 'holo-api'
export const DEFAULT_ISSUER = 'holo-auth'
export const JWKS_PATH = '/api/v1/auth/.well-known/jwks.json'

export const ROLES = ['user', 'creator', 'moderator', 'admin'] as const
export type Role = typeof ROLES[number]

export interface AccessClaims {
  sub: string
  sid: string
  roles: Role[]
  iss: string
  aud: string
  iat: number
  exp: number
  jti: string
}

export interface AuthUser {
  id: string
  roles: Role[]
  sessionId: string
}

/**
 * Redis key marking a session revoked. The auth service sets it (with a TTL of
 * at least the access-token lifetime) when a session ends; verifiers refuse
 * tokens of that session from then on.
 */
export const revokedSessionKey = (sessionId: string): string => `auth:revoked:sid:${sessionId}`
