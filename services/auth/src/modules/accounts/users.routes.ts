import { authenticated, IdParamsSchema, NoContentSchema, onBehalfOf, problemResponses, publicRoutes } from '@holo/shared'
import { contextOf } from './accounts.http.js'
import {
  AdminUpdateBodySchema, MeSchema, ProfileListSchema, ProfileSchema, ProfilesQuerySchema, SessionListSchema,
  UpdateMeBodySchema, UserListQuerySchema, UserPageSchema, UserSchema, UserSessionParamsSchema
} from './accounts.schemas.js'
import type { UsersService } from './users.service.js'

interface UsersRoutesOptions { users: UsersService }

/** The signed-in caller's own account. */
export const meRoutes = authenticated<UsersRoutesOptions>(async (app, { users }) => {
  app.get('/me', {
    schema: {
      tags: ['me'],
      summary: 'The caller\'s account and what it may do (permissions)',
      response: { 200: MeSchema, ...problemResponses(403, 404) }
    }
  }, async (request) => await users.me(request.caller))

  app.patch('/me', {
    schema: {
      tags: ['me'],
      summary: 'Change the caller\'s username or profile',
      description: 'A new avatarFileId must name a file the caller may use (their own; admins any), as the file ' +
        'service says: otherwise 400 FILE_REFERENCE_INVALID; 503 naming `file` (nothing changed) when it cannot say.',
      body: UpdateMeBodySchema,
      response: { 200: UserSchema, ...problemResponses(400, 403, 404, 409, 503) }
    }
  }, async (request) => await users.updateMe(request.caller, request.body, onBehalfOf(request)))
})

/** Account management: users.read to find and read; changing roles or the disabled flag needs more. */
export const adminRoutes = authenticated<UsersRoutesOptions>(async (app, { users }) => {
  app.get('/users', {
    schema: {
      tags: ['admin'],
      summary: 'Find accounts (users.read)',
      querystring: UserListQuerySchema,
      response: { 200: { ...UserPageSchema, description: 'A page of users' }, ...problemResponses(400) }
    }
  }, async (request) => await users.list(request.query))

  app.get('/users/:id', {
    schema: {
      tags: ['admin'],
      summary: 'One account (users.read)',
      params: IdParamsSchema,
      response: { 200: UserSchema, ...problemResponses(400, 404) }
    }
  }, async (request) => await users.get(request.params.id))

  app.patch('/users/:id', {
    schema: {
      tags: ['admin'],
      summary: 'Change an account\'s roles (users.roles) or disable it (users.disable)',
      description: 'Disabling ends every session of the account at once. The role "user" is always kept; ' +
        'every role named must exist (400 otherwise).',
      params: IdParamsSchema,
      body: AdminUpdateBodySchema,
      response: { 200: UserSchema, ...problemResponses(400, 403, 404) }
    }
  }, async (request) => await users.update(request.caller, request.params.id, request.body, contextOf(request)))

  app.get('/users/:id/sessions', {
    schema: {
      tags: ['admin'],
      summary: 'An account\'s live sessions (users.read)',
      description: 'The list its owner sees at GET /sessions: device, address, provider, times; no token material.',
      params: IdParamsSchema,
      response: { 200: { ...SessionListSchema, description: 'The account\'s live sessions' }, ...problemResponses(400, 404) }
    }
  }, async (request) => ({ items: await users.sessions(request.caller, request.params.id) }))

  const revoked = 'Its access tokens are refused by every service at once; the session.revoked event names the ' +
    'administrator, and the audit log keeps it.'

  app.delete('/users/:id/sessions/:sessionId', {
    schema: {
      tags: ['admin'],
      summary: 'End one session of an account (users.disable)',
      description: `${revoked} 404 for a session that is not a live one of this account.`,
      params: UserSessionParamsSchema,
      response: { 204: NoContentSchema, ...problemResponses(400, 403, 404) }
    }
  }, async (request, reply) => {
    const { id, sessionId } = request.params
    await users.revokeSessions(request.caller, id, sessionId, contextOf(request))
    return reply.code(204).send(null)
  })

  app.delete('/users/:id/sessions', {
    schema: {
      tags: ['admin'],
      summary: 'End every session of an account (users.disable)',
      description: `${revoked} The account stays enabled: its owner may sign in again.`,
      params: IdParamsSchema,
      response: { 204: NoContentSchema, ...problemResponses(400, 403, 404) }
    }
  }, async (request, reply) => {
    await users.revokeSessions(request.caller, request.params.id, undefined, contextOf(request))
    return reply.code(204).send(null)
  })
}, { permissions: ['users.read'] })

/** Public profiles: anyone, no token. */
export const profileRoutes = publicRoutes<UsersRoutesOptions>(async (app, { users }) => {
  app.get('/profiles/:id', {
    schema: {
      tags: ['profiles'],
      summary: 'A public profile',
      params: IdParamsSchema,
      response: { 200: ProfileSchema, ...problemResponses(400, 404) }
    }
  }, async (request) => await users.profile(request.params.id))

  app.get('/profiles', {
    schema: {
      tags: ['profiles'],
      summary: 'Public profiles of up to 100 users',
      description: 'Unknown and disabled users are left out.',
      querystring: ProfilesQuerySchema,
      response: {
        200: { ...ProfileListSchema, description: 'The public profiles asked for' },
        ...problemResponses(400)
      }
    }
  }, async (request) => ({ items: await users.profiles(request.query.ids.split(',')) }))
})
