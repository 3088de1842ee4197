// What the dashboard shows follows the signed-in member's permissions: `/me`'s `permissions` when the auth
// service sends them, else the built-in defaults of the member's roles (the same table the auth service seeds).
// The API enforces the same permissions; hiding a page here is a courtesy, not the protection.

export const PERMISSIONS = [
  'users.read', 'users.disable', 'users.roles',
  'cards.hide', 'cards.delete_any', 'reports.resolve',
  'audit.read', 'audit.read_all', 'analytics.read', 'events.manage',
  'billing.read', 'billing.refund', 'templates.publish'
] as const
export type Permission = typeof PERMISSIONS[number] | (string & {})

export const BUILT_IN_ROLES: Record<string, readonly Permission[]> = {
  user: [],
  creator: ['templates.publish'],
  moderator: ['cards.hide', 'reports.resolve', 'users.read', 'audit.read'],
  admin: PERMISSIONS
}

export function permissionsOf (me: { roles: readonly string[], permissions?: readonly string[] }): Set<Permission> {
  if (me.permissions !== undefined) return new Set(me.permissions)
  return new Set(me.roles.flatMap((r) => BUILT_IN_ROLES[r] ?? []))
}

export interface Section {
  path: string
  label: string
  /** Shown to a member holding any one of these. */
  anyOf: readonly Permission[]
}

/** The dashboard's pages in menu order. The overview's readiness panel is for every staff member. */
export const SECTIONS: readonly Section[] = [
  { path: '/', label: 'Overview', anyOf: PERMISSIONS },
  { path: '/users', label: 'Users', anyOf: ['users.read'] },
  { path: '/moderation', label: 'Moderation', anyOf: ['reports.resolve'] },
  { path: '/cards', label: 'Cards & templates', anyOf: ['cards.hide', 'templates.publish'] },
  { path: '/audit', label: 'Audit log', anyOf: ['audit.read', 'audit.read_all'] },
  { path: '/events', label: 'Events', anyOf: ['events.manage'] },
  { path: '/roles', label: 'Roles', anyOf: ['users.roles'] },
  { path: '/billing', label: 'Billing', anyOf: ['billing.read'] }
]

export const allows = (held: ReadonlySet<Permission>, anyOf: readonly Permission[]): boolean =>
  anyOf.some((p) => held.has(p))

/** The section a path belongs to (the longest matching prefix; `/` only for itself). */
export function sectionOf (path: string): Section | undefined {
  return SECTIONS.filter((s) => s.path === '/' ? path === '/' : path === s.path || path.startsWith(`${s.path}/`))
    .sort((a, b) => b.path.length - a.path.length)[0]
}
