// The signed-in member. The access token lives in memory only; the refresh token is an HttpOnly cookie the
// page cannot read (auth's cookie mode), and the CSRF token that must go with it is kept in sessionStorage so
// that a reload of this tab can refresh, while other tabs and a closed browser start signed out.
import type { AuthComponents } from '@holo/api-client'
import { api, must, setToken } from './api.js'
import { permissionsOf, type Permission } from './permissions.js'

const CSRF_KEY = 'holo-admin.csrf'

export type Me = AuthComponents['schemas']['User'] & { permissions: string[] }

export const session = $state({
  me: undefined as Me | undefined,
  permissions: new Set<Permission>(),
  /** Whether the first restore finished (a reload decides between the page and the sign-in form). */
  ready: false
})

let refreshTimer: ReturnType<typeof setTimeout> | undefined

/** Takes a new access token (and, at sign-in, the session's CSRF token), then reads /me. */
async function adopt (answer: { accessToken: string, expiresIn: number, csrfToken?: string }): Promise<void> {
  setToken(answer.accessToken)
  if (answer.csrfToken !== undefined) sessionStorage.setItem(CSRF_KEY, answer.csrfToken)
  clearTimeout(refreshTimer)
  // Refresh at 80 % of the token's life; a failure signs out.
  refreshTimer = setTimeout(() => { void refresh().catch(signedOut) }, answer.expiresIn * 800)
  await loadMe()
}

/** Reads /me again: roles or permissions changed by an admin show without signing in again. */
export async function loadMe (): Promise<void> {
  const me = must(await api().auth.GET('/api/v1/auth/me')) as Me
  session.me = me
  session.permissions = permissionsOf(me)
}

const csrfHeader = (): { 'x-csrf-token': string } | undefined => {
  const csrf = sessionStorage.getItem(CSRF_KEY)
  return csrf === null ? undefined : { 'x-csrf-token': csrf }
}

async function refresh (): Promise<void> {
  const headers = csrfHeader()
  if (headers === undefined) throw new Error('no session to refresh')
  await adopt(must(await api().auth.POST('/api/v1/auth/refresh', { params: { header: headers }, body: {} })))
}

function signedOut (): void {
  clearTimeout(refreshTimer)
  setToken(undefined)
  sessionStorage.removeItem(CSRF_KEY)
  session.me = undefined
  session.permissions = new Set()
}

/** After a reload: the cookie and the stored CSRF token bring the session back, if it is still alive. */
export async function restore (): Promise<void> {
  try {
    if (csrfHeader() !== undefined) await refresh()
  } catch {
    signedOut()
  } finally {
    session.ready = true
  }
}

export async function signIn (email: string, password: string): Promise<void> {
  await adopt(must(await api().auth.POST('/api/v1/auth/login', { body: { email, password, mode: 'cookie' } })))
}

export async function signOut (): Promise<void> {
  const headers = csrfHeader()
  try {
    if (headers !== undefined) await api().auth.POST('/api/v1/auth/logout', { params: { header: headers }, body: {} })
  } finally {
    signedOut()
  }
}
