// The one list of what staff may do. Routes and services check permissions, never role names: roles are data
// (the auth service's `roles` table), each a set of these, resolved at request time (see role-registry.ts).

export const PERMISSIONS = {
  'cards.hide': 'Hide and unhide any card; see hidden cards',
  'cards.delete_any': 'Delete any card',
  'cards.read_any': 'See private and hidden cards of others',
  'reports.resolve': 'Work the moderation queue: read and resolve reports',
  'templates.publish': 'Create and publish templates',
  'templates.manage': 'See and use any template (drafts of others, premium ones without an entitlement)',
  'collections.delete_any': 'Delete any collection',
  'files.read_any': 'See private files of others and list anyone\'s files',
  'files.manage_any': 'Change and delete files of others',
  'files.unlimited': 'Store files without the per-user quota',
  'users.read': 'Find and read accounts',
  'users.disable': 'Disable and enable accounts',
  'users.roles': 'Assign roles to accounts, and create, change and delete roles',
  'billing.read': 'Read revenue',
  'billing.refund': 'Refund payments',
  'audit.read': 'Read the moderation events of the audit log',
  'audit.read_all': 'Read the whole audit log and verify its chain',
  'analytics.read': 'Read platform metrics and the statistics of every card',
  'events.manage': 'Watch the event bus: consumer lag, dead letters, replay'
} as const

export type Permission = keyof typeof PERMISSIONS
export const PERMISSION_NAMES = Object.keys(PERMISSIONS) as Permission[]

export const isPermission = (name: string): name is Permission => Object.hasOwn(PERMISSIONS, name)

/** Role names: lower case, 2–32 characters. */
export const ROLE_NAME_PATTERN = '^[a-z][a-z0-9_-]{1,31}$'

/** The roles every installation has; their permissions may change, the roles may not go. */
export const BUILT_IN_ROLES: Readonly<Record<string, readonly Permission[]>> = {
  user: [],
  creator: ['templates.publish'],
  // Seeing hidden cards comes with cards.hide; private cards stay their owners' (no cards.read_any).
  moderator: ['cards.hide', 'cards.delete_any', 'reports.resolve', 'users.read', 'audit.read'],
  admin: PERMISSION_NAMES
}

/** The role that can never lose `users.roles`: someone must always be able to change roles. */
export const ADMIN_ROLE = 'admin'
export const LOCKOUT_PERMISSION: Permission = 'users.roles'
