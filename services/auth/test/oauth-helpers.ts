// What the social sign-in tests share: a cookie-keeping HTTP client standing in for the browser on the
// provider's own pages, and one sign-in driven end to end (start → provider login → callback).
import { createHash, randomBytes } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

/** Follows redirects like a browser and keeps cookies per origin; stops at the first URL under `stopAt`. */
export class BrowserStandIn {
  private readonly jars = new Map<string, Map<string, string>>()

  private cookieHeader (url: URL): string {
    return [...(this.jars.get(url.origin) ?? new Map<string, string>()).entries()].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  private keep (url: URL, res: Response): void {
    const jar = this.jars.get(url.origin) ?? new Map<string, string>()
    this.jars.set(url.origin, jar)
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const gone = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) ||
        attrs.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1] ?? '') < Date.now())
      if (gone) jar.delete(name)
      else jar.set(name, pair.slice(eq + 1).trim())
    }
  }

  /** Requests `url` and follows redirects until a URL starting with `stopAt` (returned) or a non-redirect. */
  async go (url: string, stopAt: string, init: { method?: string, form?: Record<string, string> } = {}):
  Promise<{ stoppedAt: string | null, res: Response, body: string }> {
    let current = new URL(url)
    let method = init.method ?? 'GET'
    let body: string | undefined = init.form !== undefined ? new URLSearchParams(init.form).toString() : undefined
    for (let hops = 0; hops < 20; hops++) {
      if (current.href.startsWith(stopAt)) return { stoppedAt: current.href, res: new Response(null), body: '' }
      const res = await fetch(current, {
        method,
        redirect: 'manual',
        headers: {
          cookie: this.cookieHeader(current),
          ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {})
        },
        ...(body !== undefined ? { body } : {})
      })
      this.keep(current, res)
      const location = res.headers.get('location')
      if (res.status < 300 || res.status >= 400 || location === null) {
        return { stoppedAt: null, res, body: await res.text() }
      }
      await res.arrayBuffer()
      current = new URL(location, current)
      method = 'GET'
      body = undefined
    }
    throw new Error('too many redirects')
  }
}

export const PUBLIC_URL = 'http://holo.test'
export const WEB_APP = 'https://app.holo.test'
export const APP_SCHEME = 'holo-app:'

export const pkce = (): { verifier: string, challenge: string } => {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

export interface Started {
  res: LightMyRequestResponse
  /** The provider's authorization URL. */
  location: string
  /** The browser-binding cookie (`holo_oauth=...`). */
  cookie: string
}

export async function start (
  app: FastifyInstance,
  provider: string,
  query: Record<string, string> = { redirectTo: `${WEB_APP}/signed-in` }
): Promise<Started> {
  const res = await app.inject({ url: `/api/v1/auth/oauth/${provider}/start?${new URLSearchParams(query).toString()}` })
  const setCookie = res.headers['set-cookie']
  const cookie = (Array.isArray(setCookie) ? setCookie[0] : setCookie)?.split(';')[0] ?? ''
  return { res, location: String(res.headers.location ?? ''), cookie }
}

/** Logs in on the provider's page for `started` and returns the callback URL the provider sent the browser to. */
export async function loginAtProvider (
  started: { location: string },
  provider: string,
  user: { email: string, password: string },
  browser = new BrowserStandIn()
): Promise<string> {
  const stopAt = `${PUBLIC_URL}/api/v1/auth/oauth/${provider}/callback`
  const page = await browser.go(started.location, stopAt)
  if (page.stoppedAt !== null) return page.stoppedAt // still signed in at the provider
  const action = /action="([^"]+)"/.exec(page.body)?.[1]
  if (action === undefined) throw new Error(`no login form at the provider: ${page.res.status} ${page.body.slice(0, 200)}`)
  const done = await browser.go(new URL(action, started.location).href, stopAt, { method: 'POST', form: user })
  if (done.stoppedAt === null) throw new Error(`the provider did not return: ${done.res.status} ${done.body.slice(0, 300)}`)
  return done.stoppedAt
}

/** Delivers the provider's answer to the auth service as the browser would (path and query, with the cookie). */
export async function callback (app: FastifyInstance, url: string, cookie: string | null): Promise<LightMyRequestResponse> {
  const u = new URL(url)
  return await app.inject({ url: u.pathname + u.search, headers: cookie !== null ? { cookie } : {} })
}

/** The Holo code in a successful callback's Location. */
export const holoCode = (res: LightMyRequestResponse): string => {
  const code = new URL(String(res.headers.location)).searchParams.get('code')
  if (code === null) throw new Error(`no code in ${String(res.headers.location)}: ${res.statusCode} ${res.body}`)
  return code
}

export async function exchange (
  app: FastifyInstance,
  code: string,
  codeVerifier?: string
): Promise<LightMyRequestResponse> {
  return await app.inject({
    method: 'POST',
    url: '/api/v1/auth/oauth/exchange',
    payload: { code, ...(codeVerifier !== undefined ? { codeVerifier } : {}) }
  })
}

/** start → provider login → callback: the callback's response. */
export async function socialSignIn (
  app: FastifyInstance,
  provider: string,
  user: { email: string, password: string },
  query?: Record<string, string>
): Promise<LightMyRequestResponse> {
  const s = await start(app, provider, query)
  if (s.res.statusCode !== 302) throw new Error(`start: ${s.res.statusCode} ${s.res.body}`)
  return await callback(app, await loginAtProvider(s, provider, user), s.cookie)
}
