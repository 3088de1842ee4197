import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { IdParamsSchema, problemResponses } from '@holo/shared'
import type { AccountsService } from './accounts.service.js'
import { callerOf, contextOf } from './auth.routes.js'
import {
  AdminUpdateBodySchema, ProfileListSchema, ProfileSchema, ProfilesQuerySchema, UpdateMeBodySchema, UserListQuerySchema,
  UserPageSchema, UserSchema
} from './accounts.schemas.js'

const bearer = [{ bearerAuth: [] }]

/** The caller's own account, admin account management and public profiles. */
export const usersRoutes: FastifyPluginAsyncTypebox<{ service: AccountsService }> = async (app, { service }) => {
  app.get('/me', {
    preHandler: app.authenticate,
    schema: {
      tags: ['me'],
      summary: 'The caller\'s account',
      security: bearer,
      response: { 200: UserSchema, ...problemResponses(401, 403, 404) }
    }
  }, async (request) => await service.me(callerOf(request)))

  app.patch('/me', {
    preHandler: app.authenticate,
    schema: {
      tags: ['me'],
      summary: 'Change the caller\'s username or profile',
      security: bearer,
      body: UpdateMeBodySchema,
      response: { 200: UserSchema, ...problemResponses(400, 401, 403, 404, 409) }
    }
  }, async (request) => await service.updateMe(callerOf(request), request.body))

  await app.register(async function adminOnly (scope) {
    const admin = scope.withTypeProvider<TypeBoxTypeProvider>()
    admin.addHook('preHandler', admin.requireRole('admin'))

    admin.get('/users', {
      schema: {
        tags: ['admin'],
        summary: 'Find accounts (admin)',
        security: bearer,
        querystring: UserListQuerySchema,
        response: { 200: { ...UserPageSchema, description: 'A page of users' }, ...problemResponses(400, 401, 403) }
      }
    }, async (request) => await service.listUsers(request.query))

    admin.get('/users/:id', {
      schema: {
        tags: ['admin'],
        summary: 'One account (admin)',
        security: bearer,
        params: IdParamsSchema,
        response: { 200: UserSchema, ...problemResponses(400, 401, 403, 404) }
      }
    }, async (request) => await service.getUser(request.params.id))

    admin.patch('/users/:id', {
      schema: {
        tags: ['admin'],
        summary: 'Change an account\'s roles or disable it (admin)',
        description: 'Disabling ends every session of the account at once. The role "user" is always kept.',
        security: bearer,
        params: IdParamsSchema,
        body: AdminUpdateBodySchema,
        response: { 200: UserSchema, ...problemResponses(400, 401, 403, 404) }
      }
    }, async (request) => await service.adminUpdate(callerOf(request), request.params.id, request.body, contextOf(request)))
  })

  app.get('/profiles/:id', {
    schema: {
      tags: ['profiles'],
      summary: 'A public profile',
      params: IdParamsSchema,
      response: { 200: ProfileSchema, ...problemResponses(400, 404) }
    }
  }, async (request) => await service.profile(request.params.id))

  app.get('/profiles', {
    schema: {
      tags: ['profiles'],
      summary: 'Public profiles of up to 100 users',
      description: 'Unknown and disabled users are left out.',
      querystring: ProfilesQuerySchema,
      response: { 200: { ...ProfileListSchema, description: 'The public profiles asked for' }, ...problemResponses(400) }
    }
  }, async (request) => ({ items: await service.profiles(request.query.ids.split(',')) }))
}
