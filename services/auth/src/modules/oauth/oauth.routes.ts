import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { authenticated, IdParamsSchema, NoContentSchema, problemResponses, publicRoutes } from '@holo/shared'
import { newOpaqueToken } from '../accounts/accounts.core.js'
import type { RefreshCookie } from '../accounts/accounts.cookie.js'
import { byIp, contextOf } from '../accounts/accounts.http.js'
import { AuthResultSchema } from '../accounts/accounts.schemas.js'
import type { OAuthService } from './oauth.service.js'
import {
  CallbackFormSchema, CallbackQuerySchema, ExchangeBodySchema, IdentityListSchema, IdentitySchema, LinkBodySchema,
  LinkStartSchema, ProviderListSchema, ProviderParamsSchema, StartQuerySchema
} from './oauth.schemas.js'

export interface OAuthRoutesOptions {
  oauth: OAuthService
  publicUrl: string
  flowTtlSeconds: number
  perIp: number
  /** Where a cookie-mode exchange puts the refresh token. */
  cookie: RefreshCookie
}

const tags = ['oauth']
/** Binds a sign-in to the browser that started it (login CSRF): the callback must carry it back. */
const COOKIE = 'holo_oauth'
const COOKIE_PATH = '/api/v1/auth/oauth/'
const Redirect = Type.Null({ description: 'A redirect (Location)' })

/** The binding cookie's value (parsed by @fastify/cookie, registered for the auth API), if well formed. */
function cookieOf (request: FastifyRequest): string | null {
  const value = request.cookies[COOKIE]
  return value !== undefined && /^[A-Za-z0-9_-]{43}$/.test(value) ? value : null
}

/** The binding cookie: HttpOnly, only for these routes; `SameSite=None; Secure` when the answer is a form POST. */
function setBinding (reply: FastifyReply, value: string, o: OAuthRoutesOptions, formPost: boolean): void {
  const https = o.publicUrl.startsWith('https://')
  reply.setCookie(COOKIE, value, {
    path: COOKIE_PATH,
    maxAge: o.flowTtlSeconds,
    httpOnly: true,
    sameSite: formPost && https ? 'none' : 'lax',
    secure: https
  })
}

/** The query string exactly as the provider sent it. */
const rawQuery = (request: FastifyRequest): URLSearchParams => {
  const q = request.url.indexOf('?')
  return new URLSearchParams(q === -1 ? '' : request.url.slice(q + 1))
}

/** Social sign-in: the providers, start, the provider's answer, and the Holo code exchange. */
export const oauthRoutes = publicRoutes<OAuthRoutesOptions>(async (app, o) => {
  const { oauth } = o

  // Apple (response_mode=form_post) answers with a form POST.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 65536 },
    (_request, body, done) => { done(null, Object.fromEntries(new URLSearchParams(body as string))) })

  app.get('/oauth/providers', {
    // Public and unauthenticated: counted per IP like the starts, under its own name.
    preHandler: app.limits(byIp('oauth-providers', o.perIp)),
    schema: {
      tags,
      summary: 'The sign-in providers that are enabled',
      response: {
        200: { ...ProviderListSchema, description: 'The enabled providers, for the sign-in screen' },
        ...problemResponses(429)
      }
    }
  }, async () => ({ items: oauth.list() }))

  app.get('/oauth/:provider/start', {
    preHandler: app.limits(byIp('oauth', o.perIp)),
    schema: {
      tags,
      summary: 'Start a sign-in with a provider (a browser navigation)',
      description: 'Redirects to the provider (authorization code, PKCE S256, state, nonce). Apps pass their own ' +
        'code_challenge (RFC 8252) and must then send the verifier to POST /oauth/exchange. Nothing is redirected ' +
        'before redirectTo is checked against the allowlist.',
      params: ProviderParamsSchema,
      querystring: StartQuerySchema,
      response: { 302: Redirect, ...problemResponses(400, 403, 404, 429, 503) }
    }
  }, async (request, reply) => {
    const binding = cookieOf(request) ?? newOpaqueToken()
    const q = request.query
    const url = await oauth.start(request.params.provider, {
      redirectTo: q.redirectTo,
      ...(q.code_challenge !== undefined ? { codeChallenge: q.code_challenge } : {}),
      ...(q.linkTicket !== undefined ? { linkTicket: q.linkTicket } : {})
    }, binding)
    setBinding(reply, binding, o, oauth.provider(request.params.provider).settings.responseMode === 'form_post')
    return reply.redirect(url.toString(), 302)
  })

  const callbackDoc = {
    tags,
    description: 'Checks the state (live, single use, this browser), redeems the code with the PKCE verifier, ' +
      'verifies the ID token (signature, issuer, audience, nonce, expiry), signs the user in or up, and redirects ' +
      'to redirectTo with a single-use Holo code (`code`, 60 s). Any failure is a problem response, never a redirect.',
    params: ProviderParamsSchema,
    response: { 302: Redirect, ...problemResponses(400, 403, 404, 409, 503) }
  }

  app.get('/oauth/:provider/callback', {
    schema: { ...callbackDoc, summary: 'The provider\'s answer (query)', querystring: CallbackQuerySchema }
  }, async (request, reply) => {
    const answer = { method: 'GET' as const, params: rawQuery(request) }
    const to = await oauth.callback(request.params.provider, answer, cookieOf(request), contextOf(request))
    return reply.redirect(to, 302)
  })

  app.post('/oauth/:provider/callback', {
    schema: { ...callbackDoc, summary: 'The provider\'s answer (form POST)', body: CallbackFormSchema }
  }, async (request, reply) => {
    const params = new URLSearchParams(request.body as Record<string, string>)
    const answer = { method: 'POST' as const, params }
    const to = await oauth.callback(request.params.provider, answer, cookieOf(request), contextOf(request))
    // 303: the browser follows with a GET.
    return reply.redirect(to, 303)
  })

  app.post('/oauth/exchange', {
    preHandler: app.limits(byIp('oauth', o.perIp)),
    schema: {
      tags,
      summary: 'Exchange the Holo code of a sign-in for tokens',
      description: 'Single use; valid OAUTH_CODE_TTL_SECONDS. A sign-in started with a code_challenge needs its ' +
        'codeVerifier. The answer is the same as a login, `"mode": "cookie"` included.',
      body: ExchangeBodySchema,
      response: {
        200: { ...AuthResultSchema, description: 'Signed in: the user and a token pair' },
        ...problemResponses(400, 403, 429)
      }
    }
  }, async (request, reply) => {
    const { code, codeVerifier, mode } = request.body
    return o.cookie.answer(reply, await oauth.exchange(code, codeVerifier, contextOf(request), mode))
  })
})

/** The caller's identities at sign-in providers: list, link, unlink. */
export const identityRoutes = authenticated<OAuthRoutesOptions>(async (app, o) => {
  const { oauth } = o

  app.get('/identities', {
    schema: {
      tags,
      summary: 'The caller\'s linked sign-in providers',
      response: { 200: { ...IdentityListSchema, description: 'The caller\'s identities, oldest first' } }
    }
  }, async (request) => ({ items: await oauth.identitiesOf(request.caller) }))

  app.post('/oauth/:provider/link', {
    schema: {
      tags,
      summary: 'Start linking a provider to the caller\'s account',
      description: 'Returns a start URL with a one-time ticket: open it in the browser. The flow returns to ' +
        'redirectTo with a Holo code; confirm it with POST /identities (signed in as the same account).',
      params: ProviderParamsSchema,
      body: LinkBodySchema,
      response: {
        200: { ...LinkStartSchema, description: 'Where the browser goes next' },
        ...problemResponses(400, 403, 404)
      }
    }
  }, async (request) => ({
    startUrl: await oauth.linkTicket(request.caller, request.params.provider, request.body.redirectTo,
      request.body.codeChallenge)
  }))

  app.post('/identities', {
    schema: {
      tags,
      summary: 'Confirm a link: the Holo code of a link flow becomes an identity of the caller',
      body: ExchangeBodySchema,
      response: {
        201: { ...IdentitySchema, description: 'Linked' },
        ...problemResponses(400, 403, 409)
      }
    }
  }, async (request, reply) => reply.code(201).send(
    await oauth.link(request.caller, request.body.code, request.body.codeVerifier, contextOf(request))))

  app.delete('/identities/:id', {
    schema: {
      tags,
      summary: 'Unlink an identity',
      description: 'Refused (409) while it is the only way left to sign in (no password, no other identity).',
      params: IdParamsSchema,
      response: { 204: NoContentSchema, ...problemResponses(400, 404, 409) }
    }
  }, async (request, reply) => {
    await oauth.unlink(request.caller, request.params.id, contextOf(request))
    return reply.code(204).send(null)
  })
})
