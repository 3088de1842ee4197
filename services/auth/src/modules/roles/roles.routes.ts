import { authenticated, NoContentSchema, problemResponses } from '@holo/shared'
import type { RolesService } from './roles.service.js'
import { PutRoleBodySchema, RoleDefinitionSchema, RoleListSchema, RoleParamsSchema } from './roles.schemas.js'

const tags = ['roles']

/** Roles and their permissions: callers holding users.roles only. */
export const rolesRoutes = authenticated<{ roles: RolesService }>(async (app, { roles }) => {
  app.get('/roles', {
    schema: {
      tags,
      summary: 'Every role and its permissions (users.roles)',
      response: { 200: RoleListSchema }
    }
  }, async () => await roles.list())

  app.put('/roles/:name', {
    schema: {
      tags,
      summary: 'Create a role or replace its permissions (users.roles; audited)',
      description: 'Every service applies the change within seconds, to tokens already issued too. An unknown ' +
        'permission is a 400; the role "admin" cannot lose users.roles (409).',
      params: RoleParamsSchema,
      body: PutRoleBodySchema,
      response: {
        200: { ...RoleDefinitionSchema, description: 'The role, replaced' },
        201: { ...RoleDefinitionSchema, description: 'The role, created' },
        ...problemResponses(400, 409)
      }
    }
  }, async (request, reply) => {
    const { role, created } = await roles.put(request.caller, request.params.name, request.body.permissions)
    return await reply.code(created ? 201 : 200).send(role)
  })

  app.delete('/roles/:name', {
    schema: {
      tags,
      summary: 'Delete a role (users.roles; audited)',
      description: 'Built-in roles and roles some account holds cannot be deleted (409).',
      params: RoleParamsSchema,
      response: { 204: NoContentSchema, ...problemResponses(400, 404, 409) }
    }
  }, async (request, reply) => {
    await roles.remove(request.caller, request.params.name)
    return await reply.code(204).send(null)
  })
}, { permissions: ['users.roles'] })
