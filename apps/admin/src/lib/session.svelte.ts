// The signed-in member. The access token lives in memory only; the refresh token is an HttpOnly cookie the
// page cannot read (auth's cookie mode), and the CSRF token that must go with it is kept in sessionStorage so
// that a reload of this tab can refresh, while other tabs and a closed browser start signed out.
import { api, ApiError, call, must, setToken } from './api.js'
import { permissionsOf, type Permission } from './permissions.js'

const CSRF_KEY = 'holo-admin.csrf'

export interface Me {
  id: string
  email: string
  username: string
  roles: string[]
  permissions?: string[]
}

interface TokenAnswer { accessToken: string, csrfToken?: string, expiresIn: number }

export const session = $state({
  me: undefined as Me | undefined,
  permissions: new Set<Permission>(),
  /** Whether the first restore finished (a reload decides between the page and the sign-in form). */
  ready: false
})

let refreshTimer: ReturnType<typeof setTimeout> | undefined

async function adopt (answer: TokenAnswer): Promise<void> {
  setToken(answer.accessToken)
  if (answer.csrfToken !== undefined) sessionStorage.setItem(CSRF_KEY, answer.csrfToken)
  clearTimeout(refreshTimer)
  if (sessionStorage.getItem(CSRF_KEY) !== null) {
    // Refresh at 80 % of the token's life; a failure signs out.
    refreshTimer = setTimeout(() => { void refresh().catch(() => signedOut()) }, answer.expiresIn * 800)
  }
  await loadMe()
}

/** Reads /me again: roles or permissions changed by an admin show without signing in again. */
export async function loadMe (): Promise<void> {
  const me = must(await api().auth.GET('/api/v1/auth/me')) as Me
  session.me = me
  session.permissions = permissionsOf(me)
}

async function refresh (): Promise<void> {
  const csrf = sessionStorage.getItem(CSRF_KEY)
  if (csrf === null) throw new Error('no session to refresh')
  await adopt(await call<TokenAnswer>('POST', '/api/v1/auth/refresh', { headers: { 'x-csrf-token': csrf } }))
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
    if (sessionStorage.getItem(CSRF_KEY) !== null) await refresh()
  } catch {
    signedOut()
  } finally {
    session.ready = true
  }
}

export async function signIn (email: string, password: string): Promise<void> {
  try {
    await adopt(await call<TokenAnswer>('POST', '/api/v1/auth/login', { body: { email, password, mode: 'cookie' } }))
  } catch (err) {
    // An auth service without cookie mode refuses the field: sign in with JSON tokens and keep only the access
    // token (in memory), so the session ends with it or with a reload. Never store a refresh token in the page.
    if (!(err instanceof ApiError && err.status === 400 && /mode/.test(err.message))) throw err
    const answer = await call<TokenAnswer>('POST', '/api/v1/auth/login', { body: { email, password } })
    await adopt({ accessToken: answer.accessToken, expiresIn: answer.expiresIn })
  }
}

export async function signOut (): Promise<void> {
  const csrf = sessionStorage.getItem(CSRF_KEY)
  try {
    if (csrf !== null) await call('POST', '/api/v1/auth/logout', { headers: { 'x-csrf-token': csrf } })
  } finally {
    signedOut()
  }
}
