// The only file that talks to Prisma: persistence without rules.
import { randomBytes } from 'node:crypto'
import { type Changed, type EventsOf, likeLiteral, noEvents, transactionWithEvents, writeEvents } from '@holo/shared'
import type { Prisma, PrismaClient } from '../../generated/prisma/client.js'
import type { AuditEventModel, SessionModel, UserModel } from '../../generated/prisma/models.js'

export type UserRow = UserModel
export type SessionRow = SessionModel
export type AuditRow = AuditEventModel

export interface AuditInput {
  event: string
  actorId?: string | null
  targetId?: string | null
  ip?: string | null
  userAgent?: string | null
  requestId?: string | null
  details?: Record<string, unknown>
}

/** What the refresh rules see of a presented refresh token, read under the session's row lock. */
export interface RefreshState {
  tokenId: string
  sessionId: string
  rotatedAt: Date | null
  expiresAt: Date
  session: { revokedAt: Date | null, expiresAt: Date, csrfHash: string | null }
  user: UserRow
}

interface RefreshRow extends UserRow {
  tokenId: string
  sessionId: string
  rotatedAt: Date | null
  expiresAt: Date
  sessionRevokedAt: Date | null
  sessionExpiresAt: Date
  sessionCsrfHash: string | null
}

export type RefreshDecision =
  | { kind: 'rotate', newHash: string, expiresAt: Date }
  | { kind: 'revoke-session', reason: string }
  | { kind: 'reject', why: 'invalid' | 'csrf' }

export type OneTimePurpose = 'password_reset' | 'email_verification'

export interface NewUser {
  email: string
  username: string
  passwordHash: string
  roles?: string[]
  emailVerifiedAt?: Date
}
export type UserChanges = Partial<Pick<UserRow,
  'username' | 'displayName' | 'bio' | 'avatarFileId' | 'roles' | 'passwordHash' | 'emailVerifiedAt' | 'disabledAt'
>>
export interface NewSession {
  userId: string
  ip: string | null
  userAgent: string | null
  expiresAt: Date
  refreshHash: string
  /** SHA-256 of a cookie-mode session's CSRF token; null in JSON mode. */
  csrfHash: string | null
  /** `password` or the key of the sign-in provider that opened it. */
  provider: string
}
/** A user's live sessions: all of them, one (`id`), or all but one (`exceptId`). */
export interface SessionSelection { userId: string, id?: string, exceptId?: string }
export interface NewOneTimeToken { userId: string, purpose: OneTimePurpose, tokenHash: string, expiresAt: Date }

/** A UUIDv7 (time-ordered), as Prisma's @default(uuid(7)) makes, for rows inserted with raw SQL. */
export function uuidv7 (now = Date.now()): string {
  const b = randomBytes(16)
  b.writeUIntBE(now, 0, 6)
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x70
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export class UniqueViolation extends Error {
  constructor (readonly field: 'email' | 'username') { super(`${field} is taken`) }
}

/** An assignment named roles the `roles` table does not have. */
export class UnknownRoles extends Error {
  constructor (readonly names: string[]) { super(`unknown roles: ${names.join(', ')}`) }
}

function uniqueViolation (err: unknown): UniqueViolation | null {
  const e = err as { code?: string, meta?: unknown, message?: string }
  if (e?.code !== 'P2002') return null
  // The constraint name is in the adapter's error meta (users_email_key, users_username_key).
  return new UniqueViolation(/users_email_key/.test(JSON.stringify(e.meta ?? {})) ? 'email' : 'username')
}

export class AccountsRepository {
  constructor (private readonly prisma: PrismaClient, private readonly schema: string) {}

  private async withEvents<R> (work: (tx: Prisma.TransactionClient) => Promise<R>, eventsOf: EventsOf<R>): Promise<R> {
    return await transactionWithEvents(this.prisma, this.schema, work, eventsOf)
  }

  async createUser (data: NewUser, eventsOf: EventsOf<UserRow> = noEvents): Promise<UserRow> {
    try {
      return await this.withEvents(async (tx) => await tx.user.create({ data }), eventsOf)
    } catch (err) {
      throw uniqueViolation(err) ?? err
    }
  }

  /**
   * Changes the account, its row locked first: `eventsOf` compares the state this change really
   * replaced with the new one, whatever ran concurrently.
   */
  async updateUser (id: string, data: UserChanges, eventsOf: Changed<UserRow> = noEvents): Promise<UserRow | null> {
    try {
      const changed = await this.withEvents(async (tx) => {
        await tx.$queryRaw`SELECT 1 FROM users WHERE id = ${id}::uuid FOR UPDATE`
        const before = await tx.user.findUnique({ where: { id } })
        if (before === null) return null
        if (data.roles !== undefined) await this.lockRoles(tx, data.roles)
        await tx.user.updateMany({ where: { id }, data })
        return { before, after: await tx.user.findUniqueOrThrow({ where: { id } }) }
      }, (c) => c === null ? [] : eventsOf(c.before, c.after))
      return changed?.after ?? null
    } catch (err) {
      throw uniqueViolation(err) ?? err
    }
  }

  /**
   * Sets the avatar only while the account has none, its row locked: an avatar the user chose meanwhile wins.
   * Null when the account is gone or already had an avatar.
   */
  async setAvatarIfUnset (id: string, fileId: string, eventsOf: Changed<UserRow> = noEvents): Promise<UserRow | null> {
    const changed = await this.withEvents(async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM users WHERE id = ${id}::uuid FOR UPDATE`
      const before = await tx.user.findUnique({ where: { id } })
      if (before === null || before.avatarFileId !== null) return null
      const after = await tx.user.update({ where: { id }, data: { avatarFileId: fileId } })
      return { before, after }
    }, (c) => c === null ? [] : eventsOf(c.before, c.after))
    return changed?.after ?? null
  }

  async findUserById (id: string): Promise<UserRow | null> {
    return await this.prisma.user.findUnique({ where: { id } })
  }

  async findUserByEmail (email: string): Promise<UserRow | null> {
    return await this.prisma.user.findUnique({ where: { email } })
  }

  async findActiveUsers (ids: string[]): Promise<UserRow[]> {
    return await this.prisma.user.findMany({ where: { id: { in: ids }, disabledAt: null } })
  }

  /**
   * The roles an assignment names, locked FOR SHARE until it commits (a role being deleted waits for it and
   * then counts its new holder); UnknownRoles when some do not exist.
   */
  private async lockRoles (tx: Prisma.TransactionClient, names: string[]): Promise<void> {
    const found = await tx.$queryRaw<Array<{ name: string }>>`
      SELECT name FROM roles WHERE name = ANY(${names}::text[]) FOR SHARE`
    const missing = names.filter((n) => !found.some((f) => f.name === n))
    if (missing.length > 0) throw new UnknownRoles(missing)
  }

  /** Those of `names` that are no role. */
  async missingRoles (names: string[]): Promise<string[]> {
    const found = await this.prisma.role.findMany({ where: { name: { in: names } }, select: { name: true } })
    return names.filter((n) => !found.some((f) => f.name === n))
  }

  /** Whether the roles together grant `permission`, as the table says now. */
  async rolesGrant (names: string[], permission: string): Promise<boolean> {
    return await this.prisma.role.count({ where: { name: { in: names }, permissions: { has: permission } } }) > 0
  }

  /** Keyset page by id (UUIDv7, so roughly by creation time). */
  async listUsers (o: { q?: string, role?: string, limit: number, afterId?: string }): Promise<UserRow[]> {
    const contains = o.q !== undefined ? { contains: likeLiteral(o.q), mode: 'insensitive' as const } : undefined
    return await this.prisma.user.findMany({
      where: {
        ...(contains !== undefined ? { OR: [{ email: contains }, { username: contains }] } : {}),
        ...(o.role !== undefined ? { roles: { has: o.role } } : {}),
        ...(o.afterId !== undefined ? { id: { gt: o.afterId } } : {})
      },
      orderBy: { id: 'asc' },
      take: o.limit
    })
  }

  async createSession (data: NewSession, eventsOf: EventsOf<SessionRow> = noEvents): Promise<SessionRow> {
    return await this.withEvents(async (tx) => await tx.session.create({
      data: {
        userId: data.userId,
        ip: data.ip,
        userAgent: data.userAgent,
        expiresAt: data.expiresAt,
        provider: data.provider,
        csrfHash: data.csrfHash,
        refreshTokens: { create: { tokenHash: data.refreshHash, expiresAt: data.expiresAt } }
      }
    }), eventsOf)
  }

  /**
   * Has the user signed in with this user agent from this network (the /24 of
   * an IPv4 address, the /64 of an IPv6 one) since `since`?
   */
  async knownDevice (userId: string, userAgent: string | null, ip: string | null, since: Date): Promise<boolean> {
    if (ip === null) return false
    const rows = await this.prisma.$queryRaw<Array<{ known: boolean }>>`
      WITH net AS (SELECT set_masklen(${ip}::inet, CASE family(${ip}::inet) WHEN 4 THEN 24 ELSE 64 END) AS n)
      SELECT EXISTS (
        SELECT 1 FROM sessions s, net
        WHERE s.user_id = ${userId}::uuid AND s.created_at >= ${since}
          AND s.user_agent IS NOT DISTINCT FROM ${userAgent}
          AND s.ip IS NOT NULL AND s.ip::inet <<= net.n
      ) AS known`
    return rows[0]?.known === true
  }

  /**
   * Runs the refresh rules on a presented token with its session row locked
   * (SELECT ... FOR UPDATE), so parallel refreshes of one session are applied
   * one after the other and never leave two live refresh tokens.
   */
  async refresh (
    tokenHash: string,
    decide: (s: RefreshState) => RefreshDecision,
    now: Date,
    revokedEventsOf: EventsOf<RefreshState> = noEvents
  ): Promise<{ state: RefreshState, decision: RefreshDecision } | null> {
    return await this.prisma.$transaction(async (tx) => {
      // One round trip reads everything the rules need and locks the session row.
      const rows = await tx.$queryRaw<RefreshRow[]>`
        SELECT rt.id AS "tokenId", rt.session_id AS "sessionId", rt.rotated_at AS "rotatedAt",
               rt.expires_at AS "expiresAt", s.revoked_at AS "sessionRevokedAt", s.expires_at AS "sessionExpiresAt",
               s.csrf_hash AS "sessionCsrfHash",
               u.id, u.email, u.username, u.display_name AS "displayName", u.bio, u.avatar_file_id AS "avatarFileId",
               u.roles, u.password_hash AS "passwordHash", u.email_verified_at AS "emailVerifiedAt",
               u.disabled_at AS "disabledAt", u.created_at AS "createdAt", u.updated_at AS "updatedAt"
        FROM refresh_tokens rt
        JOIN sessions s ON s.id = rt.session_id
        JOIN users u ON u.id = s.user_id
        WHERE rt.token_hash = ${tokenHash}
        FOR UPDATE OF s`
      const row = rows[0]
      if (row === undefined) return null
      const {
        tokenId, sessionId, rotatedAt, expiresAt, sessionRevokedAt, sessionExpiresAt, sessionCsrfHash, ...user
      } = row
      const session = { revokedAt: sessionRevokedAt, expiresAt: sessionExpiresAt, csrfHash: sessionCsrfHash }
      const state: RefreshState = { tokenId, sessionId, rotatedAt, expiresAt, session, user }
      const token = { id: tokenId, sessionId }
      const decision = decide(state)
      if (decision.kind === 'rotate') {
        // One statement (the hot path): retire the live token(s), slide the session, insert the successor.
        await tx.$executeRaw`
          WITH retired AS (
            UPDATE refresh_tokens SET rotated_at = ${now}
            WHERE session_id = ${token.sessionId}::uuid AND rotated_at IS NULL
          ), slid AS (
            UPDATE sessions SET last_used_at = ${now}, expires_at = ${decision.expiresAt}
            WHERE id = ${token.sessionId}::uuid
          )
          INSERT INTO refresh_tokens (id, session_id, token_hash, parent_id, created_at, expires_at)
          VALUES (${uuidv7()}::uuid, ${token.sessionId}::uuid, ${decision.newHash}, ${token.id}::uuid,
                  ${now}, ${decision.expiresAt})`
      } else if (decision.kind === 'revoke-session') {
        await tx.refreshToken.updateMany({
          where: { sessionId: token.sessionId, rotatedAt: null },
          data: { rotatedAt: now }
        })
        await tx.session.updateMany({
          where: { id: token.sessionId, revokedAt: null },
          data: { revokedAt: now, revokedReason: decision.reason }
        })
        await writeEvents(tx, revokedEventsOf(state), this.schema)
      }
      return { state, decision }
    })
  }

  async findSessionByRefreshHash (tokenHash: string): Promise<SessionRow | null> {
    const token = await this.prisma.refreshToken.findUnique({ where: { tokenHash }, include: { session: true } })
    return token?.session ?? null
  }

  async liveSessions (userId: string, now: Date): Promise<SessionRow[]> {
    return await this.prisma.session.findMany({
      where: { userId, revokedAt: null, expiresAt: { gt: now } },
      orderBy: { lastUsedAt: 'desc' }
    })
  }

  /** Ends sessions (all of a user's, or one) and kills their refresh tokens; returns the ids ended now. */
  async revokeSessions (
    where: SessionSelection,
    reason: string,
    now: Date,
    eventsOf: EventsOf<string[]> = noEvents
  ): Promise<string[]> {
    return await this.withEvents(async (tx) => {
      const sessions = await tx.session.findMany({
        where: {
          userId: where.userId,
          revokedAt: null,
          ...(where.id !== undefined ? { id: where.id } : {}),
          ...(where.exceptId !== undefined ? { NOT: { id: where.exceptId } } : {})
        },
        select: { id: true }
      })
      const ids = sessions.map((s) => s.id)
      if (ids.length === 0) return ids
      await tx.session.updateMany({
        where: { id: { in: ids }, revokedAt: null },
        data: { revokedAt: now, revokedReason: reason }
      })
      await tx.refreshToken.updateMany({ where: { sessionId: { in: ids }, rotatedAt: null }, data: { rotatedAt: now } })
      return ids
    }, eventsOf)
  }

  async createOneTimeToken (data: NewOneTimeToken): Promise<void> {
    await this.prisma.oneTimeToken.create({ data })
  }

  /**
   * Marks a live token of an enabled account used (at most once, even under races) and returns its user id;
   * in the same transaction deletes the account's other outstanding tokens of the `voids` purposes, so of two
   * racing siblings only one can win.
   */
  async consumeOneTimeToken (
    tokenHash: string,
    purpose: OneTimePurpose,
    now: Date,
    voids: OneTimePurpose[] = []
  ): Promise<string | null> {
    return await this.prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<Array<{ userId: string }>>`
        UPDATE one_time_tokens t SET used_at = ${now}
        FROM users u
        WHERE t.token_hash = ${tokenHash} AND t.purpose = ${purpose} AND t.used_at IS NULL AND t.expires_at > ${now}
          AND u.id = t.user_id AND u.disabled_at IS NULL
        RETURNING t.user_id AS "userId"`
      const userId = rows[0]?.userId ?? null
      if (userId !== null && voids.length > 0) {
        await tx.oneTimeToken.deleteMany({ where: { userId, purpose: { in: voids }, usedAt: null } })
      }
      return userId
    })
  }

  /** Deletes a user's outstanding (unused) tokens of these purposes. */
  async voidOneTimeTokens (userId: string, purposes: OneTimePurpose[]): Promise<void> {
    await this.prisma.oneTimeToken.deleteMany({ where: { userId, purpose: { in: purposes }, usedAt: null } })
  }

  /**
   * Sets a new password hash and, in the same transaction, voids outstanding
   * tokens; with `verifyEmail`, marks an unverified email verified (`emailVerified` says whether it was).
   */
  async setPassword (
    userId: string,
    passwordHash: string,
    o: { verifyEmail?: boolean, voidTokens: OneTimePurpose[], eventsOf?: EventsOf<{ emailVerified: boolean }> }
  ): Promise<{ emailVerified: boolean }> {
    return await this.withEvents(async (tx) => {
      await tx.user.updateMany({ where: { id: userId }, data: { passwordHash } })
      let emailVerified = false
      if (o.verifyEmail === true) {
        const unverified = { id: userId, emailVerifiedAt: null }
        emailVerified = (await tx.user.updateMany({ where: unverified, data: { emailVerifiedAt: new Date() } })).count > 0
      }
      await tx.oneTimeToken.deleteMany({ where: { userId, purpose: { in: o.voidTokens }, usedAt: null } })
      return { emailVerified }
    }, o.eventsOf ?? noEvents)
  }

  async audit (e: AuditInput): Promise<void> {
    await this.prisma.auditEvent.create({
      data: {
        event: e.event,
        actorId: e.actorId ?? null,
        targetId: e.targetId ?? null,
        ip: e.ip ?? null,
        userAgent: e.userAgent ?? null,
        requestId: e.requestId ?? null,
        ...(e.details !== undefined ? { details: e.details as object } : {})
      }
    })
  }

  async auditEvents (targetId: string): Promise<AuditRow[]> {
    return await this.prisma.auditEvent.findMany({ where: { targetId }, orderBy: { createdAt: 'asc' } })
  }
}
