// What billing tells the rest of the system (docs/events.md): made in the service layer, from what a
// transaction wrote, so they commit with it.
import type { HoloEvent } from '@holo/events'
import { event } from '@holo/shared'
import type { EntitlementChange, EntitlementRow, PaymentRow, SubscriptionRow } from './payments.repository.js'

const product = (p: PaymentRow | EntitlementRow): 'template' | 'holo-plus' => p.product

export const paymentSucceeded = (p: PaymentRow, actorId: string | undefined): HoloEvent =>
  event('holo.payment.succeeded.v1', {
    subject: p.id,
    actorId,
    data: {
      userId: p.userId,
      product: product(p),
      templateId: p.templateId,
      authorId: p.authorId,
      amount: p.amount,
      currency: p.currency,
      platformFee: p.platformFee,
      stripeFee: p.stripeFee,
      authorNet: p.authorNet
    }
  })

export const paymentRefunded = (p: PaymentRow, actorId: string | undefined): HoloEvent =>
  event('holo.payment.refunded.v1', {
    subject: p.id,
    actorId,
    data: {
      userId: p.userId,
      product: product(p),
      templateId: p.templateId,
      authorId: p.authorId,
      amount: p.amount,
      currency: p.currency
    }
  })

/** entitlement.granted or .revoked for a change; nothing when nothing changed. */
export const entitlementChanged = (c: EntitlementChange, actorId?: string): HoloEvent[] => {
  if (c.kind === 'none') return []
  const e = c.row
  const base = { userId: e.userId, product: product(e), templateId: e.templateId }
  if (c.kind === 'granted') {
    return [event('holo.entitlement.granted.v1', {
      subject: e.id, data: { ...base, validUntil: e.validUntil?.toISOString() ?? null }
    })]
  }
  return [event('holo.entitlement.revoked.v1', {
    subject: e.id,
    actorId,
    data: { ...base, reason: e.revokedReason === 'refunded' ? 'refunded' : 'subscription_ended' }
  })]
}

export const subscriptionChanged = (s: SubscriptionRow): HoloEvent =>
  event('holo.subscription.changed.v1', {
    subject: s.id,
    data: {
      userId: s.userId,
      status: s.status,
      currentPeriodEnd: s.currentPeriodEnd?.toISOString() ?? null,
      cancelAtPeriodEnd: s.cancelAtPeriodEnd
    }
  })
