import type { Registry } from 'prom-client'
import { counter } from '@holo/shared'

export type LoginResult = 'ok' | 'failed' | 'disabled'
export type RefreshResult = 'ok' | 'grace' | 'reuse' | 'invalid' | 'csrf'
export type ThrottleResult = 'refused' | 'delayed'
/** A provider's answer at the callback: signed in (an existing or a new account), linked, refused, or failed. */
export type OAuthResult = 'signed_in' | 'registered' | 'link' | 'refused' | 'failed'
/** A new account's picture: imported as its avatar, or skipped and why. */
export type AvatarImportResult = 'imported' | 'refused' | 'too_large' | 'not_image' | 'timeout' | 'failed' | 'kept'

/** What the auth service counts (besides the shared RED metrics and client instruments). */
export interface AuthMetrics {
  registered: () => void
  login: (result: LoginResult) => void
  refresh: (result: RefreshResult) => void
  throttled: (result: ThrottleResult) => void
  oauth: (provider: string, result: OAuthResult) => void
  avatarImport: (result: AvatarImportResult) => void
}

/** The auth service's domain counters, on the app's registry: the one place the service makes metrics. */
export function authMetrics (registry: Registry): AuthMetrics {
  const registrations = counter(registry, 'auth_registrations_total', 'Accounts registered')
  const logins = counter(registry, 'auth_logins_total', 'Login attempts by result', ['result'])
  const refreshes = counter(registry, 'auth_refreshes_total', 'Refresh attempts by result', ['result'])
  const throttle = counter(registry, 'auth_login_throttle_total',
    'Login attempts refused (per account + address) or slowed down (per account)', ['result'])
  const oauth = counter(registry, 'auth_oauth_callbacks_total', 'Sign-in provider answers by provider and result',
    ['provider', 'result'])
  const avatars = counter(registry, 'auth_oauth_avatar_imports_total',
    'Pictures of new social accounts imported as avatars, or skipped by reason', ['result'])
  return {
    registered: () => { registrations.inc() },
    login: (result) => { logins.inc({ result }) },
    refresh: (result) => { refreshes.inc({ result }) },
    throttled: (result) => { throttle.inc({ result }) },
    oauth: (provider, result) => { oauth.inc({ provider, result }) },
    avatarImport: (result) => { avatars.inc({ result }) }
  }
}
