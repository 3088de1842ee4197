// The access-token contract between the auth service (which signs) and every
// service (which verifies). One place, so the two sides cannot drift.

export const ACCESS_TOKEN_ALG = 'EdDSA'
export const ACCESS_TOKEN_AUDIENCE = 'holo-api'
export const DEFAULT_ISSUER = 'holo-auth'
export const JWKS_PATH = '/api/v1/auth/.well-known/jwks.json'

import type { Permission } from './permissions.js'

/** A role's name: roles are data (the auth service's `roles` table), not a fixed list. */
export type Role = string

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
  /** The roles the token was issued with. */
  roles: Role[]
  sessionId: string
  /** What the roles allow now: resolved per request from the role registry, never baked into the token. */
  permissions: ReadonlySet<Permission>
}

/**
 * Redis key marking a session revoked. The auth service sets it (with a TTL of
 * at least the access-token lifetime) when a session ends; verifiers refuse
 * tokens of that session from then on.
 */
export const revokedSessionKey = (sessionId: string): string => `auth:revoked:sid:${sessionId}`
