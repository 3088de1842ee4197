// Every read and write of billing's tables. Writes that change entitlements or money run in one transaction
// with the Stripe event that caused them (stripe_events) and the bus events they publish (the outbox).
import type pg from 'pg'
import { eventsCommitted } from '@holo/shared'
import { inTransaction, outboxCtes, outboxParam, writeOutbox, type HoloEvent } from '@holo/events'
import { v7 as uuidv7 } from 'uuid'
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { Product } from '../stripe/stripe.gateway.js'
import { saleEntries, type Split } from './payments.ledger.js'

/** The statements of one transaction, on a pg client (lighter than Prisma's interactive transactions). */
interface Sql {
  rows: <R>(sql: string, ...params: unknown[]) => Promise<R[]>
  run: (sql: string, ...params: unknown[]) => Promise<number>
}

export interface CheckoutRow {
  id: string
  userId: string
  product: Product
  target: string
  templateId: string | null
  authorId: string | null
  amount: number
  currency: string
  status: string
  stripeSessionId: string | null
  url: string | null
  createdAt: Date
  expiresAt: Date
}

export interface PaymentRow {
  id: string
  userId: string
  product: Product
  templateId: string | null
  authorId: string | null
  checkoutId: string | null
  amount: number
  currency: string
  platformFee: number
  stripeFee: number | null
  authorNet: number
  status: 'succeeded' | 'refunded'
  stripePaymentIntent: string | null
  stripeInvoice: string | null
  stripeSubscription: string | null
  createdAt: Date
  refundedAt: Date | null
  refundedBy: string | null
}

export interface EntitlementRow {
  id: string
  userId: string
  product: Product
  target: string
  templateId: string | null
  paymentId: string | null
  stripeSubscription: string | null
  validUntil: Date | null
  revokedAt: Date | null
  revokedReason: string | null
  createdAt: Date
  updatedAt: Date
}

export interface SubscriptionRow {
  id: string
  stripeSubscriptionId: string
  userId: string
  status: string
  currentPeriodEnd: Date | null
  cancelAtPeriodEnd: boolean
}

export interface NewPayment {
  userId: string
  product: Product
  templateId: string | null
  authorId: string | null
  checkoutId: string | null
  currency: string
  split: Split
  stripePaymentIntent: string | null
  stripeInvoice: string | null
  stripeSubscription: string | null
}

/** What a change of an entitlement did: granted (or extended), revoked, or nothing. */
export type EntitlementChange =
  | { kind: 'granted', row: EntitlementRow }
  | { kind: 'revoked', row: EntitlementRow }
  | { kind: 'none', row: EntitlementRow | null }

export interface EarningsTotal {
  currency: string
  gross: number
  platformFee: number
  stripeFee: number
  net: number
  sales: number
  refunds: number
}

export interface RevenuePoint {
  t: Date
  currency: string
  payments: number
  refunds: number
  gross: number
  refunded: number
  stripeFees: number
  platform: number
  authors: number
}

const num = (v: unknown): number => typeof v === 'bigint' ? Number(v) : Number(v ?? 0)

const PAYMENT_COLUMNS = `id::text, user_id::text AS "userId", product, template_id::text AS "templateId",
  author_id::text AS "authorId", checkout_id::text AS "checkoutId", amount, currency, platform_fee AS "platformFee",
  stripe_fee AS "stripeFee", author_net AS "authorNet", status, stripe_payment_intent AS "stripePaymentIntent",
  stripe_invoice AS "stripeInvoice", stripe_subscription AS "stripeSubscription", created_at AS "createdAt",
  refunded_at AS "refundedAt", refunded_by::text AS "refundedBy"`
const ENTITLEMENT_COLUMNS = `id::text, user_id::text AS "userId", product, target, template_id::text AS "templateId",
  payment_id::text AS "paymentId", stripe_subscription AS "stripeSubscription", valid_until AS "validUntil",
  revoked_at AS "revokedAt", revoked_reason AS "revokedReason", created_at AS "createdAt", updated_at AS "updatedAt"`
const CHECKOUT_COLUMNS = `id::text, user_id::text AS "userId", product, target, template_id::text AS "templateId",
  author_id::text AS "authorId", amount, currency, status, stripe_session_id AS "stripeSessionId", url,
  created_at AS "createdAt", expires_at AS "expiresAt"`
const SUBSCRIPTION_COLUMNS = `id::text, stripe_subscription_id AS "stripeSubscriptionId", user_id::text AS "userId",
  status, current_period_end AS "currentPeriodEnd", cancel_at_period_end AS "cancelAtPeriodEnd"`

/**
 * `p` (the payment, none when its PaymentIntent or invoice was recorded already) and `l` (its ledger entries)
 * as common table expressions, with the 16 parameters of `paymentParams` from `$first`; `from` makes the
 * insert depend on an earlier expression (`FROM ev`: only if the event id was new).
 */
const paymentCtes = (first: number, from: string): string => {
  const $ = (i: number): string => `$${first + i}`
  return `p AS (
    INSERT INTO payments (id, user_id, product, template_id, author_id, checkout_id, amount, currency,
      platform_fee, stripe_fee, author_net, stripe_payment_intent, stripe_invoice, stripe_subscription)
    SELECT ${$(0)}::uuid, ${$(1)}::uuid, ${$(2)}, ${$(3)}::uuid, ${$(4)}::uuid, ${$(5)}::uuid, ${$(6)}::int, ${$(7)},
      ${$(8)}::int, ${$(9)}::int, ${$(10)}::int, ${$(11)}, ${$(12)}, ${$(13)} ${from}
    ON CONFLICT DO NOTHING
    RETURNING *
  ), l AS (
    INSERT INTO ledger_entries (payment_id, kind, account, author_id, amount, currency, created_at)
    SELECT p.id, 'sale', e.account, CASE WHEN e.account = 'author' THEN p.author_id END, e.amount, p.currency,
      p.created_at
    FROM p, unnest(${$(14)}::text[], ${$(15)}::bigint[]) AS e(account, amount)
  )`
}

const paymentParams = (id: string, p: NewPayment): unknown[] => {
  const entries = saleEntries(p.split, p.authorId !== null)
  return [id, p.userId, p.product, p.templateId, p.authorId, p.checkoutId, p.split.gross, p.currency,
    p.split.platformFee, p.split.stripeFee, p.split.authorNet, p.stripePaymentIntent, p.stripeInvoice,
    p.stripeSubscription, entries.map((e) => e.account), entries.map((e) => e.amount)]
}

/** The statements of one transaction: the effect of a Stripe event or of a refund. */
export class PaymentsWriter {
  constructor (private readonly tx: Sql) {}

  /** Records a Stripe event id; false when it was recorded before (a repeat: do nothing). */
  async firstTime (eventId: string, type: string, created: Date): Promise<boolean> {
    const n = await this.tx.run(
      `INSERT INTO stripe_events (id, type, stripe_created) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
      eventId, type, created)
    return n === 1
  }

  async paymentByIntent (paymentIntent: string): Promise<PaymentRow | null> {
    const rows = await this.tx.rows<PaymentRow>(
      `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE stripe_payment_intent = $1 FOR UPDATE`, paymentIntent)
    return rows[0] ?? null
  }

  async paymentByInvoice (invoice: string): Promise<PaymentRow | null> {
    const rows = await this.tx.rows<PaymentRow>(
      `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE stripe_invoice = $1 FOR UPDATE`, invoice)
    return rows[0] ?? null
  }

  async paymentById (id: string): Promise<PaymentRow | null> {
    const rows = await this.tx.rows<PaymentRow>(
      `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = $1::uuid FOR UPDATE`, id)
    return rows[0] ?? null
  }

  /**
   * A payment and its ledger entries, in one statement (null when that PaymentIntent or invoice was recorded
   * already).
   */
  async insertPayment (p: NewPayment): Promise<PaymentRow | null> {
    const rows = await this.tx.rows<PaymentRow>(
      `WITH ${paymentCtes(1, '')} SELECT ${PAYMENT_COLUMNS} FROM p`, ...paymentParams(uuidv7(), p))
    return rows[0] ?? null
  }

  /** Marks the payment refunded and writes its sale entries negated; null when it was refunded already. */
  async refund (paymentId: string, by: string | null): Promise<PaymentRow | null> {
    const rows = await this.tx.rows<PaymentRow>(
      `UPDATE payments SET status = 'refunded', refunded_at = now(), refunded_by = $2::uuid
       WHERE id = $1::uuid AND status = 'succeeded'
       RETURNING ${PAYMENT_COLUMNS}`, paymentId, by)
    const row = rows[0]
    if (row === undefined) return null
    await this.tx.run(
      `INSERT INTO ledger_entries (payment_id, kind, account, author_id, amount, currency, created_at)
       SELECT payment_id, 'refund', account, author_id, -amount, currency, $2
       FROM ledger_entries WHERE payment_id = $1::uuid AND kind = 'sale'`, paymentId, row.refundedAt)
    return row
  }

  async completeCheckout (checkoutId: string): Promise<void> {
    await this.tx.run(`UPDATE checkouts SET status = 'complete' WHERE id = $1::uuid`, checkoutId)
  }

  async closeCheckoutBySession (sessionId: string): Promise<void> {
    await this.tx.run(
      `UPDATE checkouts SET status = 'superseded' WHERE stripe_session_id = $1 AND status = 'open'`, sessionId)
  }

  /**
   * Grants (or extends) an entitlement: valid until `validUntil` (null: for good). Reports a change only when
   * the row is new, was revoked, or its end moved: a repeat grants nothing.
   */
  async grant (g: {
    userId: string
    product: Product
    templateId: string | null
    paymentId: string | null
    stripeSubscription: string | null
    validUntil: Date | null
  }): Promise<EntitlementChange> {
    const target = g.templateId ?? 'holo-plus'
    const fresh = await this.tx.rows<EntitlementRow>(
      `INSERT INTO entitlements (id, user_id, product, target, template_id, payment_id, stripe_subscription, valid_until)
       VALUES ($1::uuid, $2::uuid, $3, $4, $5::uuid, $6::uuid, $7, $8)
       ON CONFLICT (user_id, target) DO NOTHING
       RETURNING ${ENTITLEMENT_COLUMNS}`,
      uuidv7(), g.userId, g.product, target, g.templateId, g.paymentId, g.stripeSubscription, g.validUntil)
    if (fresh[0] !== undefined) return { kind: 'granted', row: fresh[0] }
    const before = (await this.tx.rows<EntitlementRow>(
      `SELECT ${ENTITLEMENT_COLUMNS} FROM entitlements WHERE user_id = $1::uuid AND target = $2 FOR UPDATE`,
      g.userId, target))[0] as EntitlementRow
    const same = before.revokedAt === null &&
      (before.validUntil?.getTime() ?? null) === (g.validUntil?.getTime() ?? null)
    if (same) return { kind: 'none', row: before }
    const rows = await this.tx.rows<EntitlementRow>(
      `UPDATE entitlements SET valid_until = $2, revoked_at = NULL, revoked_reason = NULL, updated_at = now(),
         payment_id = COALESCE($3::uuid, payment_id), stripe_subscription = COALESCE($4, stripe_subscription)
       WHERE id = $1::uuid RETURNING ${ENTITLEMENT_COLUMNS}`,
      before.id, g.validUntil, g.paymentId, g.stripeSubscription)
    return { kind: 'granted', row: rows[0] as EntitlementRow }
  }

  /** Revokes the entitlement for `target` if it is in force and (when given) came from that payment. */
  async revoke (userId: string, target: string, reason: string, paymentId?: string): Promise<EntitlementChange> {
    const rows = await this.tx.rows<EntitlementRow>(
      `UPDATE entitlements SET revoked_at = now(), revoked_reason = $3, updated_at = now()
       WHERE user_id = $1::uuid AND target = $2 AND revoked_at IS NULL
         AND ($4::uuid IS NULL OR payment_id = $4::uuid)
       RETURNING ${ENTITLEMENT_COLUMNS}`, userId, target, reason, paymentId ?? null)
    const row = rows[0]
    return row === undefined ? { kind: 'none', row: null } : { kind: 'revoked', row }
  }

  /** The subscription row, locked (made when first seen). */
  async lockSubscription (stripeId: string, userId: string): Promise<SubscriptionRow & { fresh: boolean }> {
    const inserted = await this.tx.run(
      `INSERT INTO subscriptions (id, stripe_subscription_id, user_id, status) VALUES ($1::uuid, $2, $3::uuid, 'new')
       ON CONFLICT (stripe_subscription_id) DO NOTHING`, uuidv7(), stripeId, userId)
    const rows = await this.tx.rows<SubscriptionRow>(
      `SELECT ${SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE stripe_subscription_id = $1 FOR UPDATE`, stripeId)
    return { ...(rows[0] as SubscriptionRow), fresh: inserted === 1 }
  }

  async saveSubscription (s: SubscriptionRow): Promise<void> {
    await this.tx.run(
      `UPDATE subscriptions SET status = $2, current_period_end = $3, cancel_at_period_end = $4, updated_at = now()
       WHERE id = $1::uuid`, s.id, s.status, s.currentPeriodEnd, s.cancelAtPeriodEnd)
  }

  async userOfCustomer (customer: string): Promise<string | null> {
    const rows = await this.tx.rows<{ userId: string }>(
      `SELECT user_id::text AS "userId" FROM customers WHERE stripe_customer_id = $1`, customer)
    return rows[0]?.userId ?? null
  }
}

export class PaymentsRepository {
  /**
   * `prisma` is the relay's waking client (reads, and the wake-up after a commit that wrote events); `pool` runs
   * the write transactions (each effect's statements, its stripe_events record and its outbox rows).
   */
  constructor (private readonly prisma: PrismaClient, private readonly pool: pg.Pool, private readonly schema: string) {}

  /** Runs `work` in one transaction; the events `eventsOf` makes from its result commit with it. */
  async write<R> (work: (w: PaymentsWriter) => Promise<R>, eventsOf: (r: R) => readonly HoloEvent[]): Promise<R> {
    let events: readonly HoloEvent[] = []
    const result = await inTransaction(this.pool, async (client) => {
      const r = await work(new PaymentsWriter({
        rows: async <T>(sql: string, ...params: unknown[]) => (await client.query(sql, params)).rows as T[],
        run: async (sql: string, ...params: unknown[]) => (await client.query(sql, params)).rowCount ?? 0
      }))
      events = eventsOf(r)
      await writeOutbox(async (sql, params) => await client.query(sql, params), events, { schema: this.schema })
      return r
    })
    // Committed: wake this instance's relay (and, coalesced, the others').
    if (events.length > 0) eventsCommitted(this.prisma)
    return result
  }

  /** Whether a Stripe event id was handled (one indexed read on the write pool: no ORM on the webhook's path). */
  async seen (eventId: string): Promise<boolean> {
    const seen = await this.pool.query({ name: 'billing-seen', text: 'SELECT 1 FROM stripe_events WHERE id = $1', values: [eventId] })
    return (seen.rowCount ?? 0) > 0
  }

  /**
   * The common case of a template sale in ONE autocommit statement, without a transaction's round trips: the
   * event id, the payment and its ledger entries, the checkout completed, the entitlement granted for good and
   * the events `eventsOf` makes (those whose subject is the payment's id are written with the payment, those
   * of the entitlement's id with the grant). It applies only when none of it exists yet: this event id, a
   * payment of this PaymentIntent, an entitlement row of this user and template (refunded before, say). Else it
   * writes nothing and answers `other`: the caller applies the event in a transaction of the general path. A
   * concurrent delivery of the same event waits on the event id's insert, then finds it (`duplicate`); a
   * concurrent payment of the same PaymentIntent or grant of the same template leaves only the event id, as
   * the general path would (the payment was recorded by the other, the entitlement is in force already).
   */
  async firstSale (
    cause: { id: string, type: string, created: Date },
    p: NewPayment & { templateId: string },
    eventsOf: (payment: PaymentRow, entitlement: EntitlementRow) => readonly HoloEvent[]
  ): Promise<'applied' | 'duplicate' | 'other'> {
    const now = new Date()
    const payment: PaymentRow = {
      id: uuidv7(),
      userId: p.userId,
      product: p.product,
      templateId: p.templateId,
      authorId: p.authorId,
      checkoutId: p.checkoutId,
      amount: p.split.gross,
      currency: p.currency,
      platformFee: p.split.platformFee,
      stripeFee: p.split.stripeFee,
      authorNet: p.split.authorNet,
      status: 'succeeded',
      stripePaymentIntent: p.stripePaymentIntent,
      stripeInvoice: p.stripeInvoice,
      stripeSubscription: p.stripeSubscription,
      createdAt: now,
      refundedAt: null,
      refundedBy: null
    }
    const entitlement: EntitlementRow = {
      id: uuidv7(),
      userId: p.userId,
      product: p.product,
      target: p.templateId,
      templateId: p.templateId,
      paymentId: payment.id,
      stripeSubscription: null,
      validUntil: null,
      revokedAt: null,
      revokedReason: null,
      createdAt: now,
      updatedAt: now
    }
    // Named: each connection parses and plans it once, not on every sale.
    const { rows } = await this.pool.query<{ go: boolean, recorded: number, written: number }>({
      name: 'billing-first-sale',
      text: `WITH pre AS (
         SELECT NOT EXISTS (SELECT 1 FROM stripe_events WHERE id = $1)
           AND NOT EXISTS (SELECT 1 FROM payments WHERE stripe_payment_intent = $4)
           AND NOT EXISTS (SELECT 1 FROM entitlements WHERE user_id = $5::uuid AND target = $6) AS go
       ), ev AS (
         INSERT INTO stripe_events (id, type, stripe_created) SELECT $1, $2, $3::timestamptz FROM pre WHERE pre.go
         ON CONFLICT (id) DO NOTHING
         RETURNING id
       ), ${paymentCtes(9, 'FROM ev')}, c AS (
         UPDATE checkouts SET status = 'complete' WHERE id = $7::uuid AND EXISTS (SELECT 1 FROM p)
       ), e AS (
         INSERT INTO entitlements (id, user_id, product, target, template_id, payment_id)
         SELECT $8::uuid, p.user_id, p.product, $6, p.template_id, p.id FROM p
         ON CONFLICT (user_id, target) DO NOTHING
         RETURNING id
       ), ${outboxCtes({
         schema: this.schema,
         param: 25,
         only: 'i.subject IN (SELECT id::text FROM p UNION ALL SELECT id::text FROM e)'
       })}
       SELECT (SELECT go FROM pre) AS go, (SELECT count(*) FROM ev)::int AS recorded,
         (SELECT count(*) FROM outbox_written)::int AS written`,
      values: [cause.id, cause.type, cause.created, p.stripePaymentIntent, p.userId, p.templateId, p.checkoutId,
        entitlement.id, ...paymentParams(payment.id, p), outboxParam(eventsOf(payment, entitlement))]
    })
    const r = rows[0] as { go: boolean, recorded: number, written: number }
    if (r.written > 0) eventsCommitted(this.prisma)
    return !r.go ? 'other' : r.recorded === 0 ? 'duplicate' : 'applied'
  }

  // ---- customers and checkouts ----

  async customerOf (userId: string): Promise<string | null> {
    return (await this.prisma.customer.findUnique({ where: { userId } }))?.stripeCustomerId ?? null
  }

  /** Keeps the first customer recorded for the user; returns the one that stays. */
  async saveCustomer (userId: string, stripeCustomerId: string): Promise<string> {
    await this.prisma.$executeRawUnsafe(
      `INSERT INTO customers (user_id, stripe_customer_id) VALUES ($1::uuid, $2) ON CONFLICT (user_id) DO NOTHING`,
      userId, stripeCustomerId)
    return (await this.customerOf(userId)) ?? stripeCustomerId
  }

  async openCheckout (userId: string, target: string): Promise<CheckoutRow | null> {
    const rows = await this.prisma.$queryRawUnsafe<CheckoutRow[]>(
      `SELECT ${CHECKOUT_COLUMNS} FROM checkouts WHERE user_id = $1::uuid AND target = $2 AND status = 'open'`,
      userId, target)
    return rows[0] ?? null
  }

  /** A new open checkout, or null when the user has one open for this target already (a double click). */
  async insertCheckout (c: Omit<CheckoutRow, 'status' | 'stripeSessionId' | 'url' | 'createdAt'>): Promise<
    CheckoutRow | null
  > {
    const rows = await this.prisma.$queryRawUnsafe<CheckoutRow[]>(
      `INSERT INTO checkouts (id, user_id, product, target, template_id, author_id, amount, currency, expires_at)
       VALUES ($1::uuid, $2::uuid, $3, $4, $5::uuid, $6::uuid, $7, $8, $9)
       ON CONFLICT (user_id, target) WHERE status = 'open' DO NOTHING
       RETURNING ${CHECKOUT_COLUMNS}`,
      c.id, c.userId, c.product, c.target, c.templateId, c.authorId, c.amount, c.currency, c.expiresAt)
    return rows[0] ?? null
  }

  async supersede (checkoutId: string): Promise<void> {
    await this.prisma.$executeRawUnsafe(
      `UPDATE checkouts SET status = 'superseded' WHERE id = $1::uuid AND status = 'open'`, checkoutId)
  }

  async setSession (checkoutId: string, sessionId: string, url: string): Promise<void> {
    await this.prisma.$executeRawUnsafe(
      `UPDATE checkouts SET stripe_session_id = $2, url = $3 WHERE id = $1::uuid AND stripe_session_id IS NULL`,
      checkoutId, sessionId, url)
  }

  // ---- reads ----

  /** The entitlement to `target` in force now, if any. */
  async activeEntitlement (userId: string, target: string): Promise<EntitlementRow | null> {
    const rows = await this.prisma.$queryRawUnsafe<EntitlementRow[]>(
      `SELECT ${ENTITLEMENT_COLUMNS} FROM entitlements
       WHERE user_id = $1::uuid AND target = $2 AND revoked_at IS NULL AND (valid_until IS NULL OR valid_until > now())`,
      userId, target)
    return rows[0] ?? null
  }

  async entitlements (userId: string): Promise<EntitlementRow[]> {
    return await this.prisma.$queryRawUnsafe<EntitlementRow[]>(
      `SELECT ${ENTITLEMENT_COLUMNS} FROM entitlements WHERE user_id = $1::uuid
       ORDER BY created_at DESC, id DESC`, userId)
  }

  async purchases (userId: string, limit: number, after?: { createdAt: string, id: string }): Promise<PaymentRow[]> {
    return await this.prisma.$queryRawUnsafe<PaymentRow[]>(
      `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE user_id = $1::uuid
         AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
       ORDER BY created_at DESC, id DESC LIMIT $4`,
      userId, after?.createdAt ?? null, after?.id ?? null, limit + 1)
  }

  async payment (id: string): Promise<PaymentRow | null> {
    const rows = await this.prisma.$queryRawUnsafe<PaymentRow[]>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = $1::uuid`, id)
    return rows[0] ?? null
  }

  async subscriptionsOf (userId: string): Promise<SubscriptionRow[]> {
    return await this.prisma.$queryRawUnsafe<SubscriptionRow[]>(
      `SELECT ${SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE user_id = $1::uuid ORDER BY updated_at DESC`, userId)
  }

  /** An author's earnings per currency, from the ledger (refunds included, negative). */
  async earnings (authorId: string): Promise<EarningsTotal[]> {
    const rows = await this.prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(
      `SELECT p.currency,
         sum(CASE WHEN l.kind = 'sale' THEN p.amount ELSE -p.amount END) AS gross,
         sum(CASE WHEN l.kind = 'sale' THEN p.platform_fee ELSE -p.platform_fee END) AS "platformFee",
         sum(CASE WHEN l.kind = 'sale' THEN coalesce(p.stripe_fee, 0) ELSE -coalesce(p.stripe_fee, 0) END) AS "stripeFee",
         sum(l.amount) AS net,
         count(*) FILTER (WHERE l.kind = 'sale') AS sales,
         count(*) FILTER (WHERE l.kind = 'refund') AS refunds
       FROM ledger_entries l JOIN payments p ON p.id = l.payment_id
       WHERE l.account = 'author' AND l.author_id = $1::uuid
       GROUP BY p.currency ORDER BY p.currency`, authorId)
    return rows.map((r) => ({
      currency: String(r.currency),
      gross: num(r.gross),
      platformFee: num(r.platformFee),
      stripeFee: num(r.stripeFee),
      net: num(r.net),
      sales: num(r.sales),
      refunds: num(r.refunds)
    }))
  }

  /** An author's ledger lines, newest first. */
  async earningEntries (authorId: string, limit: number): Promise<Array<Record<string, unknown>>> {
    return await this.prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(
      `SELECT l.payment_id::text AS "paymentId", l.kind, p.template_id::text AS "templateId", l.currency,
         CASE WHEN l.kind = 'sale' THEN p.amount ELSE -p.amount END AS gross,
         CASE WHEN l.kind = 'sale' THEN p.platform_fee ELSE -p.platform_fee END AS "platformFee",
         CASE WHEN l.kind = 'sale' THEN p.stripe_fee ELSE -p.stripe_fee END AS "stripeFee",
         l.amount AS net, l.created_at AS "createdAt"
       FROM ledger_entries l JOIN payments p ON p.id = l.payment_id
       WHERE l.account = 'author' AND l.author_id = $1::uuid
       ORDER BY l.created_at DESC, l.id DESC LIMIT $2`, authorId, limit)
  }

  /** Revenue per bucket and currency, from the ledger. */
  async revenue (from: Date, to: Date, granularity: 'hour' | 'day' | 'month'): Promise<RevenuePoint[]> {
    const rows = await this.prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(
      `SELECT date_trunc($3, l.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS t, l.currency,
         count(*) FILTER (WHERE l.account = 'customer' AND l.kind = 'sale') AS payments,
         count(*) FILTER (WHERE l.account = 'customer' AND l.kind = 'refund') AS refunds,
         coalesce(-sum(l.amount) FILTER (WHERE l.account = 'customer' AND l.kind = 'sale'), 0) AS gross,
         coalesce(sum(l.amount) FILTER (WHERE l.account = 'customer' AND l.kind = 'refund'), 0) AS refunded,
         coalesce(sum(l.amount) FILTER (WHERE l.account = 'stripe'), 0) AS "stripeFees",
         coalesce(sum(l.amount) FILTER (WHERE l.account = 'platform'), 0) AS platform,
         coalesce(sum(l.amount) FILTER (WHERE l.account = 'author'), 0) AS authors
       FROM ledger_entries l
       WHERE l.created_at >= $1 AND l.created_at < $2
       GROUP BY 1, 2 ORDER BY 1, 2`, from, to, granularity)
    return rows.map((r) => ({
      t: r.t as Date,
      currency: String(r.currency),
      payments: num(r.payments),
      refunds: num(r.refunds),
      gross: num(r.gross),
      refunded: num(r.refunded),
      stripeFees: num(r.stripeFees),
      platform: num(r.platform),
      authors: num(r.authors)
    }))
  }
}
