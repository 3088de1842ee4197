// What the dashboard shows follows the signed-in member's permissions (`/me`'s `permissions`). The API enforces
// the same permissions; hiding a page here is a courtesy, not the protection.
import { isPermission, PERMISSION_NAMES, type Permission } from '@holo/permissions'

export { BUILT_IN_ROLES, PERMISSION_NAMES, PERMISSIONS, type Permission } from '@holo/permissions'

/** The member's permissions, as `/me` says (the auth service resolves them from the member's roles). */
export const permissionsOf = (me: { permissions: readonly string[] }): Set<Permission> =>
  new Set(me.permissions.filter(isPermission))

export interface Section {
  path: string
  label: string
  /** Shown to a member holding any one of these. */
  anyOf: readonly Permission[]
}

/** The dashboard's pages in menu order. The overview's readiness panel is for every staff member. */
export const SECTIONS: readonly Section[] = [
  { path: '/', label: 'Overview', anyOf: PERMISSION_NAMES },
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
