// Identities at sign-in providers: the only oauth file that talks to Prisma.
import { type EventsOf, noEvents, transactionWithEvents } from '@holo/shared'
import type { Prisma, PrismaClient } from '../../generated/prisma/client.js'
import type { IdentityModel } from '../../generated/prisma/models.js'
import type { NewUser, UserRow } from '../accounts/accounts.repository.js'

export type IdentityRow = IdentityModel

export interface NewIdentity {
  provider: string
  subject: string
  email: string | null
  emailVerified: boolean
}

/** Which unique rule a write broke. */
export type IdentityConflict = 'email' | 'username' | 'identity-taken' | 'provider-linked'

export class IdentityConflictError extends Error {
  constructor (readonly conflict: IdentityConflict) { super(`unique violation: ${conflict}`) }
}

function conflictOf (err: unknown): IdentityConflictError | null {
  const e = err as { code?: string, meta?: unknown }
  if (e?.code !== 'P2002') return null
  const meta = JSON.stringify(e.meta ?? {})
  if (/identities_provider_subject_key/.test(meta)) return new IdentityConflictError('identity-taken')
  if (/identities_user_id_provider_key/.test(meta)) return new IdentityConflictError('provider-linked')
  if (/users_email_key/.test(meta)) return new IdentityConflictError('email')
  return new IdentityConflictError('username')
}

export class IdentitiesRepository {
  constructor (private readonly prisma: PrismaClient, private readonly schema: string) {}

  async find (provider: string, subject: string): Promise<IdentityRow | null> {
    return await this.prisma.identity.findUnique({ where: { provider_subject: { provider, subject } } })
  }

  async ofUser (userId: string): Promise<IdentityRow[]> {
    return await this.prisma.identity.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } })
  }

  /** A new account and its identity, in one transaction with the events of the new account. */
  async createUserWithIdentity (
    user: Omit<NewUser, 'passwordHash'> & { displayName: string | null },
    identity: NewIdentity,
    eventsOf: EventsOf<UserRow> = noEvents
  ): Promise<{ user: UserRow, identity: IdentityRow }> {
    try {
      const out = await transactionWithEvents(this.prisma, this.schema, async (tx: Prisma.TransactionClient) => {
        const created = await tx.user.create({ data: { ...user, passwordHash: null } })
        const row = await tx.identity.create({ data: { ...identity, userId: created.id, lastUsedAt: new Date() } })
        return { user: created, identity: row }
      }, (r) => eventsOf(r.user))
      return out
    } catch (err) {
      throw conflictOf(err) ?? err
    }
  }

  async add (userId: string, identity: NewIdentity): Promise<IdentityRow> {
    try {
      return await this.prisma.identity.create({ data: { ...identity, userId, lastUsedAt: new Date() } })
    } catch (err) {
      throw conflictOf(err) ?? err
    }
  }

  /** Records a sign-in: when, and what the provider says of the email now. */
  async touch (id: string, email: string | null, emailVerified: boolean): Promise<void> {
    await this.prisma.identity.updateMany({ where: { id }, data: { lastUsedAt: new Date(), email, emailVerified } })
  }

  /**
   * Deletes one of the user's identities unless it is the last way to sign in (no password, no other identity).
   * The user's row is locked first, so two parallel unlinks cannot both leave the account with nothing.
   */
  async deleteUnlessLast (userId: string, id: string): Promise<'deleted' | 'not-found' | 'last'> {
    return await this.prisma.$transaction(async (tx) => {
      const users = await tx.$queryRaw<Array<{ hasPassword: boolean }>>`
        SELECT password_hash IS NOT NULL AS "hasPassword" FROM users WHERE id = ${userId}::uuid FOR UPDATE`
      const identities = await tx.identity.findMany({ where: { userId }, select: { id: true } })
      if (users[0] === undefined || !identities.some((i) => i.id === id)) return 'not-found'
      if (!users[0].hasPassword && identities.length <= 1) return 'last'
      await tx.identity.deleteMany({ where: { id, userId } })
      return 'deleted'
    })
  }
}
