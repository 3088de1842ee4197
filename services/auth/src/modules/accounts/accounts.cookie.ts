// Cookie mode (first-party browsers): the refresh token lives in an HttpOnly cookie that only the sign-in
// routes see, and each refresh or logout from it proves it comes from the app with the session's CSRF token.
import type { CookieSerializeOptions } from '@fastify/cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AuthResult } from './accounts.schemas.js'
import type { IssuedTokens, PresentedToken } from './sessions.service.js'

/** Every route under it receives the cookie; nothing outside the auth API ever does. */
export const REFRESH_COOKIE_PATH = '/api/v1/auth'

/** The refresh cookie of one configuration (AUTH_COOKIE_SECURE): its name and attributes. */
export class RefreshCookie {
  /** `__Secure-` makes browsers refuse it unless set over https with Secure (plain-http development: no prefix). */
  readonly name: string
  private readonly attributes: CookieSerializeOptions

  constructor (o: { secure: boolean, maxAgeSeconds: number }) {
    this.name = o.secure ? '__Secure-holo_refresh' : 'holo_refresh'
    this.attributes = {
      path: REFRESH_COOKIE_PATH,
      httpOnly: true,
      secure: o.secure,
      sameSite: 'strict',
      maxAge: o.maxAgeSeconds
    }
  }

  /** The refresh token a request presents: the body's first (apps), else the cookie's; undefined: neither. */
  presented (request: FastifyRequest, bodyToken: string | undefined): PresentedToken | undefined {
    if (bodyToken !== undefined) return { token: bodyToken, from: 'body' }
    const cookie = request.cookies[this.name]
    return cookie === undefined || cookie === '' ? undefined : { token: cookie, from: 'cookie' }
  }

  /** The JSON answer of a sign-in or refresh; in cookie mode the refresh token goes into the cookie instead. */
  answer (reply: FastifyReply, issued: IssuedTokens): AuthResult {
    const { user, accessToken, expiresIn, refreshToken } = issued
    if (issued.mode === 'json') return { user, accessToken, refreshToken, expiresIn }
    reply.setCookie(this.name, refreshToken, this.attributes)
    return { user, accessToken, expiresIn, ...(issued.csrfToken !== undefined ? { csrfToken: issued.csrfToken } : {}) }
  }

  clear (reply: FastifyReply): void {
    const { maxAge: _, ...attributes } = this.attributes
    reply.clearCookie(this.name, attributes)
  }
}
