import { Type } from 'typebox'
import { authenticated, NoContentSchema, problemResponses, publicRoutes } from '@holo/shared'
import type { Config } from '../../config.js'
import { byAccount, byIp, contextOf } from './accounts.http.js'
import {
  ChangePasswordBodySchema, ResetConfirmBodySchema, ResetRequestBodySchema, VerifyEmailBodySchema
} from './accounts.schemas.js'
import type { PasswordsService } from './passwords.service.js'

export interface PasswordRoutesOptions { passwords: PasswordsService, config: Config }

const Accepted = Type.Object({}, { description: 'Accepted: if the account exists, an email is on its way' })
const tags = ['auth']

/** Password reset and email verification: the token from the mail is the credential. */
export const passwordFlowRoutes = publicRoutes<PasswordRoutesOptions>(async (app, o) => {
  const { passwords, config } = o

  app.post('/password-reset', {
    preHandler: app.limits(
      byIp('reset', config.RATE_LIMIT_RESET_PER_IP),
      byAccount('reset', config.RATE_LIMIT_RESET_PER_ACCOUNT)
    ),
    schema: {
      tags,
      summary: 'Ask for a password-reset email',
      description: 'Answers 202 whether or not the account exists. ' +
        'The email carries a single-use token valid 30 minutes.',
      body: ResetRequestBodySchema,
      response: { 202: Accepted, ...problemResponses(400, 429) }
    }
  }, async (request, reply) => {
    passwords.requestReset(request.body.email, contextOf(request))
    return reply.code(202).send({})
  })

  app.post('/password-reset/confirm', {
    schema: {
      tags,
      summary: 'Set a new password with a reset token',
      description: 'Ends every session of the account. A used, expired or unknown token is a 400.',
      body: ResetConfirmBodySchema,
      response: { 204: NoContentSchema, ...problemResponses(400, 403) }
    }
  }, async (request, reply) => {
    await passwords.confirmReset(request.body, contextOf(request))
    return reply.code(204).send(null)
  })

  app.post('/verify-email', {
    schema: {
      tags,
      summary: 'Confirm the email address with the token from the verification email',
      body: VerifyEmailBodySchema,
      response: { 204: NoContentSchema, ...problemResponses(400) }
    }
  }, async (request, reply) => {
    await passwords.verifyEmail(request.body.token, contextOf(request))
    return reply.code(204).send(null)
  })
})

/** The signed-in caller's password. */
export const passwordChangeRoutes = authenticated<{ passwords: PasswordsService }>(
  async (app, { passwords }) => {
    app.post('/password', {
      schema: {
        tags,
        operationId: 'authChangePassword',
        summary: 'Change the password',
        description: 'Every other session of the caller ends.',
        body: ChangePasswordBodySchema,
        response: { 204: NoContentSchema, ...problemResponses(400, 403) }
      }
    }, async (request, reply) => {
      await passwords.change(request.caller, request.body, contextOf(request))
      return reply.code(204).send(null)
    })
  }
)
