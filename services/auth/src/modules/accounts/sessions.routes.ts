import { authenticated, IdParamsSchema, NoContentSchema, problemResponses, publicRoutes } from '@holo/shared'
import type { Config } from '../../config.js'
import type { SigningKeys } from '../../keys.js'
import { errors } from '../../errors.js'
import type { RefreshCookie } from './accounts.cookie.js'
import { byIp, contextOf } from './accounts.http.js'
import {
  AuthResultSchema, CsrfHeadersSchema, JwksSchema, LoginBodySchema, RefreshBodySchema, RegisterBodySchema,
  SessionListSchema
} from './accounts.schemas.js'
import type { SessionsService } from './sessions.service.js'

export interface SignInRoutesOptions {
  sessions: SessionsService
  config: Config
  keys: SigningKeys
  cookie: RefreshCookie
}

const tags = ['auth']
const cookieMode = 'With `"mode": "cookie"` the refresh token is set as an HttpOnly, SameSite=Strict cookie ' +
  '(`__Secure-holo_refresh`, Path=/api/v1/auth) instead of being answered, and the answer carries a csrfToken.'
const fromCookie = 'Without a refreshToken in the body (an empty object or no body) the refresh cookie is used. ' +
  'The refresh token of a cookie-mode session needs its csrfToken in X-CSRF-Token (403 without it or with ' +
  'another one, nothing changed).'

/** Registration, login, refresh, logout by refresh token and the JWKS: no access token needed (one sent is ignored). */
export const signInRoutes = publicRoutes<SignInRoutesOptions>(async (app, o) => {
  const { sessions, config, keys, cookie } = o
  // A browser may refresh or log out with no body at all: the cookie carries the token.
  const emptyBodyIsEmptyObject = async (request: { body: unknown }): Promise<void> => { request.body ??= {} }

  app.post('/register', {
    preHandler: app.limits(byIp('register', config.RATE_LIMIT_REGISTER_PER_IP)),
    schema: {
      tags,
      summary: 'Create an account and start a session',
      description: 'Sends an email-verification message. Email and username are unique (case-insensitive). ' +
        cookieMode,
      body: RegisterBodySchema,
      response: {
        201: { ...AuthResultSchema, description: 'Registered and signed in: the user and a token pair' },
        ...problemResponses(400, 409, 429)
      }
    }
  }, async (request, reply) =>
    reply.code(201).send(cookie.answer(reply, await sessions.register(request.body, contextOf(request)))))

  app.post('/login', {
    // Per account the service throttles (per account + address, slow-down account-wide): it must see failures.
    preHandler: app.limits(byIp('login', config.RATE_LIMIT_LOGIN_PER_IP)),
    schema: {
      tags,
      summary: 'Log in with email and password',
      description: 'A wrong email and a wrong password get the same 401; a disabled account gets 403. ' + cookieMode,
      body: LoginBodySchema,
      response: {
        200: { ...AuthResultSchema, description: 'Signed in: the user and a token pair' },
        ...problemResponses(400, 401, 403, 429)
      }
    }
  }, async (request, reply) => cookie.answer(reply, await sessions.login(request.body, contextOf(request))))

  app.post('/refresh', {
    preValidation: emptyBodyIsEmptyObject,
    schema: {
      tags,
      summary: 'Exchange a refresh token for a new token pair',
      description: 'Every refresh rotates the refresh token (in cookie mode: the cookie). ' +
        'Presenting a rotated token again (after a short grace window) ends the whole session. ' + fromCookie,
      headers: CsrfHeadersSchema,
      body: RefreshBodySchema,
      response: {
        200: { ...AuthResultSchema, description: 'A new token pair; the refresh token given is spent' },
        ...problemResponses(400, 401, 403)
      }
    }
  }, async (request, reply) => {
    const presented = cookie.presented(request, request.body.refreshToken) ?? missing()
    const issued = await sessions.refresh(presented, request.headers['x-csrf-token'], contextOf(request))
    return cookie.answer(reply, issued)
  })

  app.post('/logout', {
    preValidation: emptyBodyIsEmptyObject,
    schema: {
      tags,
      summary: 'End the session of a refresh token',
      description: `${fromCookie} Clears the refresh cookie of a cookie-mode session.`,
      headers: CsrfHeadersSchema,
      body: RefreshBodySchema,
      response: { 204: NoContentSchema, ...problemResponses(400, 403) }
    }
  }, async (request, reply) => {
    const presented = cookie.presented(request, request.body.refreshToken) ?? missing()
    const mode = await sessions.logout(presented, request.headers['x-csrf-token'], contextOf(request))
    if (mode === 'cookie') cookie.clear(reply)
    return reply.code(204).send(null)
  })

  app.get('/.well-known/jwks.json', {
    schema: {
      tags,
      operationId: 'getJwks',
      summary: 'The public keys that verify access tokens (JWK set)',
      // No 4xx/5xx: no input, no token, and the keys are in memory from startup (no start without them).
      response: { 200: { ...JwksSchema, description: 'The JWK set: the public half of every configured signing key' } }
    }
  }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300')
    return keys.jwks() as { keys: Array<{ kid: string, kty: string, alg: string, use: string }> }
  })
})

/** The signed-in caller's sessions. */
export const sessionRoutes = authenticated<{ sessions: SessionsService }>(async (app, o) => {
  const { sessions } = o

  app.post('/logout-all', {
    schema: {
      tags,
      summary: 'End every session of the caller',
      response: { 204: NoContentSchema }
    }
  }, async (request, reply) => {
    await sessions.logoutAll(request.caller, contextOf(request))
    return reply.code(204).send(null)
  })

  app.get('/sessions', {
    schema: {
      tags,
      summary: 'The caller\'s live sessions',
      response: { 200: { ...SessionListSchema, description: 'The caller\'s active sessions' } }
    }
  }, async (request) => ({ items: await sessions.list(request.caller) }))

  app.delete('/sessions/:id', {
    schema: {
      tags,
      summary: 'End one of the caller\'s sessions',
      params: IdParamsSchema,
      response: { 204: NoContentSchema, ...problemResponses(400, 404) }
    }
  }, async (request, reply) => {
    await sessions.end(request.caller, request.params.id, contextOf(request))
    return reply.code(204).send(null)
  })
})

const missing = (): never => { throw errors.REFRESH_TOKEN_MISSING() }
