import { Type, type Static } from 'typebox'
import { PERMISSION_NAMES, PERMISSIONS } from '@holo/shared'
import { RoleSchema as RoleNameSchema } from '../accounts/accounts.schemas.js'

export const PermissionSchema = Type.Enum(PERMISSION_NAMES, {
  description: 'One of the permissions: ' + PERMISSION_NAMES.map((p) => `${p} (${PERMISSIONS[p]})`).join('; ')
})

export const RoleDefinitionSchema = Type.Object({
  name: RoleNameSchema,
  permissions: Type.Array(PermissionSchema),
  builtIn: Type.Boolean({ description: 'Built-in roles (user, creator, moderator, admin) cannot be deleted' })
}, { $id: 'Role', description: 'A role: a named set of permissions' })
export type RoleDefinition = Static<typeof RoleDefinitionSchema>

export const RoleListSchema = Type.Object({ items: Type.Array(RoleDefinitionSchema) }, { description: 'Every role' })
export type RoleList = Static<typeof RoleListSchema>

export const RoleParamsSchema = Type.Object({ name: RoleNameSchema })

export const PutRoleBodySchema = Type.Object({
  permissions: Type.Array(PermissionSchema, { uniqueItems: true, maxItems: PERMISSION_NAMES.length })
}, {
  additionalProperties: false,
  examples: [{ permissions: ['cards.hide', 'reports.resolve'] }]
})
export type PutRoleBody = Static<typeof PutRoleBodySchema>
