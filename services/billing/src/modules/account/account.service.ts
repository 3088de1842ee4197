// What a signed-in user reads of their own billing: entitlements, purchases, earnings; and the way to
// Stripe's customer portal.
import { decodeTimeCursor, encodeCursor, page } from '@holo/shared'
import { errors } from '../../errors.js'
import type { PaymentProvider } from '../stripe/stripe.gateway.js'
import type { EntitlementRow, PaymentRow, PaymentsRepository } from '../payments/payments.repository.js'
import type { Earnings, Entitlement, Purchase, PurchasesQuery } from './account.schemas.js'

const iso = (d: Date | null): string | null => d?.toISOString() ?? null

export function toEntitlement (r: EntitlementRow, now = Date.now()): Entitlement {
  return {
    id: r.id,
    product: r.product,
    templateId: r.templateId,
    active: r.revokedAt === null && (r.validUntil === null || r.validUntil.getTime() > now),
    validUntil: iso(r.validUntil),
    revokedAt: iso(r.revokedAt),
    revokedReason: r.revokedReason,
    createdAt: r.createdAt.toISOString()
  }
}

export function toPurchase (r: PaymentRow): Purchase {
  return {
    id: r.id,
    product: r.product,
    templateId: r.templateId,
    amount: r.amount,
    currency: r.currency,
    status: r.status,
    createdAt: r.createdAt.toISOString(),
    refundedAt: iso(r.refundedAt)
  }
}

const num = (v: unknown): number => typeof v === 'bigint' ? Number(v) : Number(v)

export class AccountService {
  constructor (
    private readonly repo: PaymentsRepository,
    private readonly stripe: PaymentProvider,
    private readonly portalReturnUrl: string
  ) {}

  async entitlements (userId: string): Promise<{ items: Entitlement[], subscriptions: Array<{
    id: string, status: string, currentPeriodEnd: string | null, cancelAtPeriodEnd: boolean
  }> }> {
    const [rows, subs] = await Promise.all([this.repo.entitlements(userId), this.repo.subscriptionsOf(userId)])
    return {
      items: rows.map((r) => toEntitlement(r)),
      subscriptions: subs.map((s) => ({
        id: s.id, status: s.status, currentPeriodEnd: iso(s.currentPeriodEnd), cancelAtPeriodEnd: s.cancelAtPeriodEnd
      }))
    }
  }

  async purchases (userId: string, q: PurchasesQuery): Promise<{ items: Purchase[], nextCursor: string | null }> {
    const limit = q.limit ?? 20
    const after = q.cursor === undefined ? undefined : decodeTimeCursor(q.cursor, 'bp')
    const rows = await this.repo.purchases(userId, limit, after)
    return page(rows, limit, toPurchase, (r) => encodeCursor('bp', [r.createdAt.toISOString(), r.id]))
  }

  /** One of the user's purchases; another user's is missing to them. */
  async purchase (userId: string, id: string): Promise<Purchase> {
    const row = await this.repo.payment(id)
    if (row === null || row.userId !== userId) throw errors.PURCHASE_NOT_FOUND()
    return toPurchase(row)
  }

  async portal (userId: string): Promise<{ url: string }> {
    const customer = await this.repo.customerOf(userId)
    if (customer === null) throw errors.NO_BILLING_ACCOUNT()
    return { url: await this.stripe.portal(customer, this.portalReturnUrl) }
  }

  async earnings (authorId: string): Promise<Earnings> {
    const [totals, entries] = await Promise.all([this.repo.earnings(authorId), this.repo.earningEntries(authorId, 100)])
    return {
      totals,
      entries: entries.map((e) => ({
        paymentId: String(e.paymentId),
        kind: e.kind as 'sale' | 'refund',
        templateId: (e.templateId as string | null) ?? null,
        currency: String(e.currency),
        gross: num(e.gross),
        platformFee: num(e.platformFee),
        stripeFee: e.stripeFee === null ? null : num(e.stripeFee),
        net: num(e.net),
        createdAt: (e.createdAt as Date).toISOString()
      }))
    }
  }
}
