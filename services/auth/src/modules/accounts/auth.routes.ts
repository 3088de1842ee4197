import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { IdParamsSchema, problemResponses, type AuthUser } from '@holo/shared'
import type { Config } from '../../config.js'
import type { SigningKeys } from '../../keys.js'
import { normaliseEmail, type AccountsService, type RequestContext } from './accounts.service.js'
import { accountKey } from './accounts.throttle.js'
import {
  AuthResultSchema, ChangePasswordBodySchema, JwksSchema, LoginBodySchema, RefreshBodySchema, RegisterBodySchema,
  ResetConfirmBodySchema, ResetRequestBodySchema, SessionListSchema, VerifyEmailBodySchema
} from './accounts.schemas.js'

export interface AccountsRoutesOptions { service: AccountsService, config: Config, keys: SigningKeys }

export const contextOf = (request: FastifyRequest): RequestContext => ({
  ip: request.ip,
  userAgent: request.headers['user-agent'] ?? null,
  requestId: request.id,
  log: request.log
})

/** The caller of a route guarded by app.authenticate. */
export const callerOf = (request: FastifyRequest): AuthUser => request.user as AuthUser

const NoContent = Type.Null({ description: 'No content' })
const Accepted = Type.Object({}, { description: 'Accepted: if the account exists, an email is on its way' })
const bearer = [{ bearerAuth: [] }]
const tags = ['auth']

/** The account a request names, as a counter key (a hash of the normalised email). */
const accountOf = (request: FastifyRequest): string | undefined => {
  const email = (request.body as { email?: unknown } | undefined)?.email
  return typeof email === 'string' ? accountKey(normaliseEmail(email)) : undefined
}

/** Registration, login, tokens, logout, password and email flows, sessions and the JWKS. */
export const authRoutes: FastifyPluginAsyncTypebox<AccountsRoutesOptions> = async (app, { service, config, keys }) => {
  const byIp = (name: string, max: number) => ({ name: `${name}:ip`, max, key: (r: FastifyRequest) => r.ip })
  const byAccount = (name: string, max: number) => ({ name: `${name}:account`, max, key: accountOf })

  app.post('/register', {
    preHandler: app.limits(byIp('register', config.RATE_LIMIT_REGISTER_PER_IP)),
    schema: {
      tags,
      summary: 'Create an account and start a session',
      description: 'Sends an email-verification message. Email and username are unique (case-insensitive).',
      body: RegisterBodySchema,
      response: { 201: { ...AuthResultSchema, description: 'Registered and signed in: the user and a token pair' }, ...problemResponses(400, 409, 429) }
    }
  }, async (request, reply) => reply.code(201).send(await service.register(request.body, contextOf(request))))

  app.post('/login', {
    // Per account the service throttles (per account + address, slow-down account-wide): it must see failures.
    preHandler: app.limits(byIp('login', config.RATE_LIMIT_LOGIN_PER_IP)),
    schema: {
      tags,
      summary: 'Log in with email and password',
      description: 'A wrong email and a wrong password get the same 401; a disabled account gets 403.',
      body: LoginBodySchema,
      response: { 200: { ...AuthResultSchema, description: 'Signed in: the user and a token pair' }, ...problemResponses(400, 401, 403, 429) }
    }
  }, async (request) => await service.login(request.body, contextOf(request)))

  app.post('/refresh', {
    schema: {
      tags,
      summary: 'Exchange a refresh token for a new token pair',
      description: 'Every refresh rotates the refresh token. Presenting a rotated token again (after a short grace window) ends the whole session.',
      body: RefreshBodySchema,
      response: { 200: { ...AuthResultSchema, description: 'A new token pair; the refresh token given is spent' }, ...problemResponses(400, 401) }
    }
  }, async (request) => await service.refresh(request.body.refreshToken, contextOf(request)))

  app.post('/logout', {
    schema: {
      tags,
      summary: 'End the session of a refresh token',
      body: RefreshBodySchema,
      response: { 204: NoContent, ...problemResponses(400) }
    }
  }, async (request, reply) => {
    await service.logout(request.body.refreshToken, contextOf(request))
    return reply.code(204).send(null)
  })

  app.post('/logout-all', {
    preHandler: app.authenticate,
    schema: {
      tags,
      summary: 'End every session of the caller',
      security: bearer,
      response: { 204: NoContent, ...problemResponses(401) }
    }
  }, async (request, reply) => {
    await service.logoutAll(callerOf(request), contextOf(request))
    return reply.code(204).send(null)
  })

  app.post('/password', {
    preHandler: app.authenticate,
    schema: {
      tags,
      operationId: 'authChangePassword',
      summary: 'Change the password',
      description: 'Every other session of the caller ends.',
      security: bearer,
      body: ChangePasswordBodySchema,
      response: { 204: NoContent, ...problemResponses(400, 401, 403) }
    }
  }, async (request, reply) => {
    await service.changePassword(callerOf(request), request.body, contextOf(request))
    return reply.code(204).send(null)
  })

  app.post('/password-reset', {
    preHandler: app.limits(byIp('reset', config.RATE_LIMIT_RESET_PER_IP), byAccount('reset', config.RATE_LIMIT_RESET_PER_ACCOUNT)),
    schema: {
      tags,
      summary: 'Ask for a password-reset email',
      description: 'Answers 202 whether or not the account exists. The email carries a single-use token valid 30 minutes.',
      body: ResetRequestBodySchema,
      response: { 202: Accepted, ...problemResponses(400, 429) }
    }
  }, async (request, reply) => {
    service.requestPasswordReset(request.body.email, contextOf(request))
    return reply.code(202).send({})
  })

  app.post('/password-reset/confirm', {
    schema: {
      tags,
      summary: 'Set a new password with a reset token',
      description: 'Ends every session of the account. A used, expired or unknown token is a 400.',
      body: ResetConfirmBodySchema,
      response: { 204: NoContent, ...problemResponses(400, 403) }
    }
  }, async (request, reply) => {
    await service.confirmPasswordReset(request.body, contextOf(request))
    return reply.code(204).send(null)
  })

  app.post('/verify-email', {
    schema: {
      tags,
      summary: 'Confirm the email address with the token from the verification email',
      body: VerifyEmailBodySchema,
      response: { 204: NoContent, ...problemResponses(400) }
    }
  }, async (request, reply) => {
    await service.verifyEmail(request.body.token, contextOf(request))
    return reply.code(204).send(null)
  })

  app.get('/sessions', {
    preHandler: app.authenticate,
    schema: {
      tags,
      summary: 'The caller\'s live sessions',
      security: bearer,
      response: { 200: { ...SessionListSchema, description: 'The caller\'s active sessions' }, ...problemResponses(401) }
    }
  }, async (request) => ({ items: await service.sessions(callerOf(request)) }))

  app.delete('/sessions/:id', {
    preHandler: app.authenticate,
    schema: {
      tags,
      summary: 'End one of the caller\'s sessions',
      security: bearer,
      params: IdParamsSchema,
      response: { 204: NoContent, ...problemResponses(400, 401, 404) }
    }
  }, async (request, reply) => {
    await service.endSession(callerOf(request), request.params.id, contextOf(request))
    return reply.code(204).send(null)
  })

  app.get('/.well-known/jwks.json', {
    schema: {
      tags,
      operationId: 'getJwks',
      summary: 'The public keys that verify access tokens (JWK set)',
      // No 4xx/5xx: no input, no token, and the keys are in memory from startup (the service does not start without them).
      response: { 200: { ...JwksSchema, description: 'The JWK set: the public half of every configured signing key' } }
    }
  }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300')
    return keys.jwks() as { keys: Array<{ kid: string, kty: string, alg: string, use: string }> }
  })
}
