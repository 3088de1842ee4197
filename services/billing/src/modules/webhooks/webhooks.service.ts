// Stripe's webhooks: verified on the raw body, then each handled type fetches what it needs from Stripe (the
// current state, never the event's snapshot alone, so the order events arrive in does not matter) and applies
// it once. Unhandled types are acknowledged and ignored.
import type { PaymentProvider, VerifiedEvent } from '../stripe/stripe.gateway.js'
import type { Outcome, PaymentsService } from '../payments/payments.service.js'
import type { PaymentsRepository } from '../payments/payments.repository.js'

export const HANDLED_TYPES = [
  'checkout.session.completed',
  // A delayed payment method (a bank debit) succeeds later than its checkout completes.
  'checkout.session.async_payment_succeeded',
  'checkout.session.expired',
  'invoice.paid',
  'invoice.payment_failed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'charge.refunded'
] as const

const handled = new Set<string>(HANDLED_TYPES)

const idOf = (v: unknown): string | null =>
  typeof v === 'string' ? v : (typeof v === 'object' && v !== null && typeof (v as { id?: unknown }).id === 'string')
    ? (v as { id: string }).id
    : null

const field = (o: Record<string, unknown>, path: string[]): unknown =>
  path.reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined), o)

export class WebhookService {
  constructor (
    private readonly stripe: PaymentProvider,
    private readonly payments: PaymentsService,
    private readonly repo: PaymentsRepository
  ) {}

  /** Verifies and applies one delivery; returns what happened (the route answers 200 to all three). */
  async receive (rawBody: Buffer, signature: string | undefined): Promise<{ event: VerifiedEvent, outcome: Outcome }> {
    const event = this.stripe.verify(rawBody, signature)
    if (!handled.has(event.type)) return { event, outcome: 'ignored' }
    // A cheap early answer for a repeat; the effect's transaction checks again (two deliveries at once).
    if (await this.repo.seen(event.id)) return { event, outcome: 'duplicate' }
    return { event, outcome: await this.apply(event) }
  }

  private async apply (event: VerifiedEvent): Promise<Outcome> {
    const o = event.object
    const cause = { id: event.id, type: event.type, created: event.created }
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded': {
        const metadata = (o.metadata ?? {}) as Record<string, string>
        if (o.mode === 'payment') {
          const pi = idOf(o.payment_intent)
          if (pi === null) return await this.payments.acknowledge(cause)
          return await this.payments.recordTemplatePayment(await this.stripe.paymentIntent(pi), cause)
        }
        const sub = idOf(o.subscription)
        if (o.mode !== 'subscription' || sub === null) return await this.payments.acknowledge(cause)
        return await this.payments.syncSubscription(await this.stripe.subscription(sub), cause, metadata.holoCheckoutId)
      }
      case 'checkout.session.expired':
        return await this.payments.expireCheckout(String(o.id), cause)
      case 'invoice.paid': {
        const inv = await this.stripe.invoice(String(o.id))
        if (inv.subscription === null) return await this.payments.acknowledge(cause)
        const [pi, sub] = await Promise.all([
          inv.paymentIntent === null ? null : this.stripe.paymentIntent(inv.paymentIntent),
          this.stripe.subscription(inv.subscription)
        ])
        return await this.payments.recordInvoice(inv, pi, sub, cause)
      }
      case 'invoice.payment_failed': {
        const sub = idOf(field(o, ['parent', 'subscription_details', 'subscription']))
        if (sub === null) return await this.payments.acknowledge(cause)
        return await this.payments.syncSubscription(await this.stripe.subscription(sub), cause)
      }
      case 'customer.subscription.created':
      case 'customer.subscription.updated':
      case 'customer.subscription.deleted':
        return await this.payments.syncSubscription(await this.stripe.subscription(String(o.id)), cause)
      case 'charge.refunded': {
        const pi = idOf(o.payment_intent)
        if (pi === null) return await this.payments.acknowledge(cause)
        return await this.payments.recordRefund(await this.stripe.paymentIntent(pi), cause)
      }
      default:
        return 'ignored'
    }
  }
}
