// The only file of the roles module that talks to Prisma: persistence without rules.
import type { HoloEvent } from '@holo/events'
import { transactionWithEvents } from '@holo/shared'
import type { Prisma, PrismaClient } from '../../generated/prisma/client.js'
import type { RoleModel } from '../../generated/prisma/models.js'

export type RoleRow = RoleModel

/** A change of the roles as it committed, with the registry version it took. */
export interface RoleChange { before: RoleRow | null, after: RoleRow | null, version: number }

/** The role table as the registry in Redis mirrors it. */
export interface RegistrySnapshot { version: number, roles: Array<{ name: string, permissions: string[] }> }

export class RolesRepository {
  constructor (private readonly prisma: PrismaClient, private readonly schema: string) {}

  async list (): Promise<RoleRow[]> {
    return await this.prisma.role.findMany({ orderBy: { name: 'asc' } })
  }

  /**
   * Creates or replaces a role. Changes of roles run one at a time (a table lock), so their versions follow
   * their commits. An unchanged role writes nothing (and takes no version).
   */
  async put (
    name: string,
    permissions: string[],
    eventsOf: (c: RoleChange) => readonly HoloEvent[]
  ): Promise<RoleChange> {
    return await this.change(async (tx) => {
      const before = await tx.role.findUnique({ where: { name } })
      if (before !== null && sameSet(before.permissions, permissions)) return { before, after: before, version: 0 }
      const after = await tx.role.upsert({ where: { name }, create: { name, permissions }, update: { permissions } })
      return { before, after, version: await nextVersion(tx) }
    }, eventsOf)
  }

  /**
   * Deletes a role. Its row is locked first: an assignment that named it (which locks it FOR SHARE) has
   * committed by then, so `holders` counts it, and a later one finds the role gone.
   */
  async remove (
    name: string,
    check: (row: RoleRow | null, holders: number) => void,
    eventsOf: (c: RoleChange) => readonly HoloEvent[]
  ): Promise<RoleChange> {
    return await this.change(async (tx) => {
      const [locked] = await tx.$queryRaw<RoleRow[]>`SELECT name FROM roles WHERE name = ${name} FOR UPDATE`
      const before = locked === undefined ? null : await tx.role.findUnique({ where: { name } })
      const [{ holders }] = await tx.$queryRaw<[{ holders: number }]>`
        SELECT count(*)::int AS holders FROM users WHERE ${name} = ANY(roles)`
      check(before, holders)
      await tx.role.delete({ where: { name } })
      return { before, after: null, version: await nextVersion(tx) }
    }, eventsOf)
  }

  /**
   * The whole table and a version for it: `fresh` takes a new one (a start, which writes Redis whatever it
   * holds), otherwise the last one taken (a republish after Redis came back).
   */
  async snapshot (fresh: boolean): Promise<RegistrySnapshot> {
    const version = fresh
      ? await nextVersion(this.prisma)
      : Number((await this.prisma.$queryRaw<[{ v: bigint }]>`SELECT last_value AS v FROM roles_version`)[0].v)
    const roles = (await this.list()).map((r) => ({ name: r.name, permissions: r.permissions }))
    return { version, roles }
  }

  private async change (
    work: (tx: Prisma.TransactionClient) => Promise<RoleChange>,
    eventsOf: (c: RoleChange) => readonly HoloEvent[]
  ): Promise<RoleChange> {
    return await transactionWithEvents(this.prisma, this.schema, async (tx) => {
      await tx.$executeRaw`LOCK TABLE roles IN SHARE ROW EXCLUSIVE MODE`
      return await work(tx)
    }, (c) => c.version === 0 ? [] : eventsOf(c))
  }
}

async function nextVersion (db: Pick<PrismaClient, '$queryRaw'>): Promise<number> {
  const [row] = await db.$queryRaw<[{ v: bigint }]>`SELECT nextval('roles_version') AS v`
  return Number(row.v)
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((p) => b.includes(p))
