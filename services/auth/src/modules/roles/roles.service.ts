import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import {
  ADMIN_ROLE, BUILT_IN_ROLES, event, LOCKOUT_PERMISSION, PERMISSION_NAMES, type AuthUser, type Permission,
  writeRoleRegistry
} from '@holo/shared'
import { errors } from '../../errors.js'
import type { RoleChange, RoleRow, RolesRepository } from './roles.repository.js'
import type { RoleDefinition, RoleList } from './roles.schemas.js'

const isBuiltIn = (name: string): boolean => Object.hasOwn(BUILT_IN_ROLES, name)

/** Permissions in the order of the shared list, whatever order they were stored or sent in. */
const ordered = (permissions: readonly string[]): Permission[] =>
  PERMISSION_NAMES.filter((p) => permissions.includes(p))

const toRole = (r: RoleRow): RoleDefinition =>
  ({ name: r.name, permissions: ordered(r.permissions), builtIn: r.builtIn })

export interface RolesServiceOptions {
  repo: RolesRepository
  redis: Redis
  /** ROLES_REGISTRY_KEY: where every service reads the registry. */
  registryKey: string
  log: FastifyBaseLogger
  /** Called once the registry was written: this instance applies it at once, without waiting for the message. */
  written?: () => Promise<void>
}

/**
 * Roles and their permissions: the table is the truth, the registry in Redis its copy for every service.
 * Each change commits with its event, then writes the registry at the version it took and announces it.
 */
export class RolesService {
  constructor (private readonly o: RolesServiceOptions) {}

  async list (): Promise<RoleList> {
    return { items: (await this.o.repo.list()).map(toRole) }
  }

  /** Creates or replaces `name`; `created` tells which. */
  async put (
    caller: AuthUser, name: string, permissions: Permission[]
  ): Promise<{ role: RoleDefinition, created: boolean }> {
    if (name === ADMIN_ROLE && !permissions.includes(LOCKOUT_PERMISSION)) throw errors.ROLE_LOCKOUT()
    const change = await this.o.repo.put(name, ordered(permissions), (c) => [event('holo.role.changed.v1', {
      subject: name,
      actorId: caller.id,
      data: {
        permissions: c.after?.permissions ?? [],
        previousPermissions: c.before === null ? null : ordered(c.before.permissions)
      }
    })])
    await this.published(change)
    if (change.after === null) throw errors.ROLE_NOT_FOUND(name)
    return { role: toRole(change.after), created: change.before === null }
  }

  /** Deletes a role nobody holds that is not built in. */
  async remove (caller: AuthUser, name: string): Promise<void> {
    const change = await this.o.repo.remove(name, (row, holders) => {
      if (row === null) throw errors.ROLE_NOT_FOUND(name)
      if (row.builtIn || isBuiltIn(name)) throw errors.ROLE_BUILT_IN(name)
      if (holders > 0) throw errors.ROLE_IN_USE(name, holders)
    }, (c) => [event('holo.role.deleted.v1', {
      subject: name,
      actorId: caller.id,
      data: { previousPermissions: ordered(c.before?.permissions ?? []) }
    })])
    await this.published(change)
  }

  /**
   * Writes the whole table to the registry. `fresh` (at start) takes a new version and writes whatever Redis
   * holds (a Redis that outlived a database reset is corrected); otherwise an older copy in Redis is replaced.
   */
  async publish (fresh: boolean): Promise<void> {
    const { version, roles } = await this.o.repo.snapshot(fresh)
    const written = await writeRoleRegistry(this.o.redis, this.o.registryKey, version, roles, { force: fresh })
    if (written) this.o.log.info({ version, roles: roles.length }, 'role registry written')
    await this.o.written?.()
  }

  /** After a change committed: the registry at its version. Redis down: written again when it is back. */
  private async published (change: RoleChange): Promise<void> {
    if (change.version === 0) return
    try {
      const { roles } = await this.o.repo.snapshot(false)
      await writeRoleRegistry(this.o.redis, this.o.registryKey, change.version, roles)
      await this.o.written?.()
    } catch (err) {
      this.o.log.error({ err, version: change.version },
        'role registry not written; it is written again once Redis is back')
    }
  }
}
