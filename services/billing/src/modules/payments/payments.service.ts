// The rules of money and entitlements: a payment is recorded once (by its PaymentIntent or invoice), split
// into the ledger, and grants its entitlement; a refund reverses the ledger and revokes what the payment
// granted; a Holo+ subscription entitles its user until its current period ends while Stripe says it is
// active. Every change commits with the Stripe event that caused it and the bus events it publishes.
import type { FastifyBaseLogger } from 'fastify'
import type { HoloEvent } from '@holo/events'
import { errors } from '../../errors.js'
import type { InvoiceState, PaidIntent, PaymentProvider, Product, SubscriptionState } from '../stripe/stripe.gateway.js'
import { entitlementChanged, paymentRefunded, paymentSucceeded, subscriptionChanged } from './payments.events.js'
import { split } from './payments.ledger.js'
import type {
  EntitlementChange, PaymentRow, PaymentsRepository, PaymentsWriter, SubscriptionRow
} from './payments.repository.js'

/** The Stripe event being applied: its id is recorded with the effect, and a repeat changes nothing. */
export interface Cause { id: string, type: string, created: number }

export type Outcome = 'applied' | 'duplicate' | 'ignored'

/** Statuses in which a subscription still entitles its user until the current period ends. */
const ENTITLING = new Set(['active', 'trialing', 'past_due'])

interface Effect { outcome: Outcome, events: HoloEvent[] }
const duplicate: Effect = { outcome: 'duplicate', events: [] }

export interface PaymentsServiceOptions {
  repo: PaymentsRepository
  stripe: PaymentProvider
  platformFeePercent: number
  log: FastifyBaseLogger
}

export class PaymentsService {
  constructor (private readonly o: PaymentsServiceOptions) {}

  /** Runs an effect once per Stripe event (none for a direct call such as an admin refund). */
  private async once (cause: Cause | undefined, work: (w: PaymentsWriter) => Promise<HoloEvent[]>): Promise<Outcome> {
    const effect = await this.o.repo.write(async (w): Promise<Effect> => {
      if (cause !== undefined && !await w.firstTime(cause.id, cause.type, new Date(cause.created * 1000))) {
        return duplicate
      }
      return { outcome: 'applied', events: await work(w) }
    }, (e) => e.events)
    return effect.outcome
  }

  /** Records the event id only (an event that needs no change, e.g. a checkout of Holo+ that ended unpaid). */
  async acknowledge (cause: Cause): Promise<Outcome> {
    return await this.once(cause, async () => [])
  }

  /** A checkout that ended unpaid: a new one may start. */
  async expireCheckout (sessionId: string, cause: Cause): Promise<Outcome> {
    return await this.once(cause, async (w) => {
      await w.closeCheckoutBySession(sessionId)
      return []
    })
  }

  /**
   * A template bought through Checkout (its PaymentIntent carries the checkout's metadata): records the payment
   * and its ledger split once, grants the template, and applies a refund Stripe already reports. Whichever of
   * checkout.session.completed and charge.refunded comes first, the result is the same.
   */
  async recordTemplatePayment (pi: PaidIntent, cause: Cause): Promise<Outcome> {
    const m = pi.metadata
    if (!pi.succeeded || m.product !== 'template' || m.userId === undefined || m.templateId === undefined ||
      m.authorId === undefined) {
      this.o.log.warn({ paymentIntent: pi.id, stripeEvent: cause.id }, 'a PaymentIntent without a Holo template checkout; ignored')
      return await this.acknowledge(cause)
    }
    const sale = {
      userId: m.userId,
      product: 'template' as const,
      templateId: m.templateId,
      authorId: m.authorId,
      checkoutId: m.holoCheckoutId ?? null,
      currency: pi.currency,
      split: split(pi.amount, this.o.platformFeePercent, pi.stripeFee, true),
      stripePaymentIntent: pi.id,
      stripeInvoice: null,
      stripeSubscription: null
    }
    // The common case (a new sale, not refunded) in one statement; anything else in the transaction below.
    if (!pi.refunded) {
      const outcome = await this.o.repo.firstSale(
        { id: cause.id, type: cause.type, created: new Date(cause.created * 1000) }, sale,
        (payment, entitlement) => [
          paymentSucceeded(payment, payment.userId), ...entitlementChanged({ kind: 'granted', row: entitlement })
        ])
      if (outcome !== 'other') return outcome
    }
    return await this.once(cause, async (w) => {
      const events: HoloEvent[] = []
      // Inserted unless that PaymentIntent was recorded already (then the existing row, locked, is used).
      const inserted = await w.insertPayment(sale)
      const payment = inserted ?? await w.paymentByIntent(pi.id) as PaymentRow
      if (inserted !== null) {
        if (m.holoCheckoutId !== undefined) await w.completeCheckout(m.holoCheckoutId)
        events.push(paymentSucceeded(payment, payment.userId))
        events.push(...entitlementChanged(await w.grant({
          userId: payment.userId,
          product: 'template',
          templateId: payment.templateId,
          paymentId: payment.id,
          stripeSubscription: null,
          validUntil: null
        })))
      }
      if (pi.refunded) events.push(...await this.reverse(w, payment, undefined))
      return events
    })
  }

  /** A refund reported by Stripe for a payment (from its dashboard, or the echo of an admin's refund). */
  async recordRefund (pi: PaidIntent, cause: Cause): Promise<Outcome> {
    if (pi.metadata.product === 'template') return await this.recordTemplatePayment(pi, cause)
    return await this.once(cause, async (w) => {
      const payment = await w.paymentByIntent(pi.id)
      // A Holo+ invoice not recorded yet: invoice.paid records it and sees the refund then.
      if (payment === null || !pi.refunded) return []
      return await this.reverse(w, payment, undefined)
    })
  }

  /** Reverses a payment's ledger entries and revokes what it granted; nothing when it was refunded already. */
  private async reverse (w: PaymentsWriter, payment: PaymentRow, by: string | undefined): Promise<HoloEvent[]> {
    const refunded = await w.refund(payment.id, by ?? null)
    if (refunded === null) return []
    const change: EntitlementChange = refunded.product === 'template'
      ? await w.revoke(refunded.userId, refunded.templateId as string, 'refunded', refunded.id)
      : await w.revoke(refunded.userId, 'holo-plus', 'refunded')
    return [paymentRefunded(refunded, by), ...entitlementChanged(change, by)]
  }

  /** A paid Holo+ invoice: records the payment once (Stripe's fee when known), then the subscription's state. */
  async recordInvoice (inv: InvoiceState, pi: PaidIntent | null, sub: SubscriptionState, cause: Cause): Promise<Outcome> {
    return await this.once(cause, async (w) => {
      const userId = await this.userOf(w, sub)
      if (userId === null) return []
      const events: HoloEvent[] = []
      let payment = await w.paymentByInvoice(inv.id)
      if (payment === null && inv.status === 'paid') {
        payment = await w.insertPayment({
          userId,
          product: 'holo-plus',
          templateId: null,
          authorId: null,
          checkoutId: null,
          currency: inv.currency,
          split: split(inv.amountPaid, this.o.platformFeePercent, pi?.stripeFee ?? null, false),
          stripePaymentIntent: inv.paymentIntent,
          stripeInvoice: inv.id,
          stripeSubscription: sub.id
        }) as PaymentRow
        // The buyer acted for the first invoice only (the checkout); renewals have no actor.
        events.push(paymentSucceeded(payment, inv.billingReason === 'subscription_create' ? userId : undefined))
      }
      events.push(...await this.applySubscription(w, sub, userId))
      if (payment !== null && pi?.refunded === true) events.push(...await this.reverse(w, payment, undefined))
      return events
    })
  }

  /** Any change of a Holo+ subscription: its state as Stripe has it now decides (so order does not matter). */
  async syncSubscription (sub: SubscriptionState, cause: Cause, checkoutId?: string): Promise<Outcome> {
    return await this.once(cause, async (w) => {
      const userId = await this.userOf(w, sub)
      if (userId === null) return []
      if (checkoutId !== undefined) await w.completeCheckout(checkoutId)
      return await this.applySubscription(w, sub, userId)
    })
  }

  private async userOf (w: PaymentsWriter, sub: SubscriptionState): Promise<string | null> {
    const userId = sub.metadata.userId ?? await w.userOfCustomer(sub.customer)
    if (userId === null) this.o.log.warn({ subscription: sub.id }, 'a subscription of no Holo user; ignored')
    return userId
  }

  private async applySubscription (w: PaymentsWriter, sub: SubscriptionState, userId: string): Promise<HoloEvent[]> {
    const row = await w.lockSubscription(sub.id, userId)
    // Canceled is final at Stripe: a state fetched earlier and applied later never brings it back, and a
    // period end never moves back.
    if (row.status === 'canceled' && sub.status !== 'canceled') return []
    const periodEnd = latest(row.currentPeriodEnd, sub.currentPeriodEnd)
    const next: SubscriptionRow = {
      ...row, status: sub.status, currentPeriodEnd: periodEnd, cancelAtPeriodEnd: sub.cancelAtPeriodEnd
    }
    const events: HoloEvent[] = []
    const changed = row.status !== next.status || row.cancelAtPeriodEnd !== next.cancelAtPeriodEnd ||
      row.currentPeriodEnd?.getTime() !== next.currentPeriodEnd?.getTime()
    if (changed) {
      await w.saveSubscription(next)
      events.push(subscriptionChanged(next))
    }
    if (ENTITLING.has(sub.status) && periodEnd !== null) {
      events.push(...entitlementChanged(await w.grant({
        userId, product: 'holo-plus', templateId: null, paymentId: null, stripeSubscription: sub.id, validUntil: periodEnd
      })))
    } else if (!ENTITLING.has(sub.status)) {
      events.push(...entitlementChanged(await w.revoke(userId, 'holo-plus', 'subscription_ended')))
    }
    return events
  }

  /**
   * An administrator's refund: asks Stripe to refund in full (one refund per payment, by its idempotency key),
   * then reverses the ledger and revokes the entitlement at once, the administrator as the actor (the
   * audit log records it). Stripe's charge.refunded echo changes nothing more. Holo+ is also cancelled.
   */
  async refund (paymentId: string, adminId: string): Promise<PaymentRow> {
    const payment = await this.o.repo.payment(paymentId)
    if (payment === null) throw errors.PAYMENT_NOT_FOUND()
    if (payment.status === 'refunded') throw errors.ALREADY_REFUNDED()
    if (payment.stripePaymentIntent === null) {
      throw errors.STRIPE_REFUSED('this payment has no PaymentIntent to refund')
    }
    await this.o.stripe.refund(payment.stripePaymentIntent, `holo-refund-${payment.id}`, {
      holoPaymentId: payment.id, refundedBy: adminId
    })
    if (payment.product === 'holo-plus' && payment.stripeSubscription !== null) {
      await this.o.stripe.cancelSubscription(payment.stripeSubscription).catch((err: unknown) => {
        // Already ended at Stripe: nothing left to cancel.
        this.o.log.warn({ err, subscription: payment.stripeSubscription }, 'cancelling the refunded subscription failed')
      })
    }
    let after: PaymentRow | null = null
    await this.once(undefined, async (w) => {
      const locked = await w.paymentById(payment.id) as PaymentRow
      const events = await this.reverse(w, locked, adminId)
      after = await w.paymentById(payment.id)
      return events
    })
    return after ?? payment
  }
}

const latest = (a: Date | null, b: Date | null): Date | null =>
  a === null ? b : b === null ? a : (a.getTime() >= b.getTime() ? a : b)

export type { Product }
