// The billing service's only door to Stripe: a small interface it owns, implemented with the official `stripe`
// package. Routes and services never see the SDK; its errors become catalogued ones here.
import Stripe from 'stripe'
import { commonErrors } from '@holo/shared'
import { errors } from '../../errors.js'

export type Product = 'template' | 'holo-plus'

/** What a checkout carries to Stripe and back (as metadata of the session and of its payment or subscription). */
export interface CheckoutMetadata {
  holoCheckoutId: string
  userId: string
  product: Product
  templateId?: string
  authorId?: string
}

export interface NewCheckout {
  checkoutId: string
  customerId: string
  metadata: CheckoutMetadata
  /** A one-off price (templates), from the server; or the recurring Price id of Holo+. */
  line: { amount: number, currency: string, name: string } | { price: string }
  successUrl: string
  cancelUrl: string
  expiresAt: Date
}

/** A PaymentIntent as the ledger needs it: what was paid, Stripe's fee when known, whether it was refunded. */
export interface PaidIntent {
  id: string
  amount: number
  currency: string
  metadata: Record<string, string>
  succeeded: boolean
  stripeFee: number | null
  refunded: boolean
}

export interface SubscriptionState {
  id: string
  customer: string
  status: string
  currentPeriodEnd: Date | null
  cancelAtPeriodEnd: boolean
  metadata: Record<string, string>
}

export interface InvoiceState {
  id: string
  status: string
  /** subscription_create for the first invoice, subscription_cycle for a renewal, … */
  billingReason: string | null
  amountPaid: number
  currency: string
  subscription: string | null
  metadata: Record<string, string>
  paymentIntent: string | null
}

/** A verified webhook event: only what the handlers read. */
export interface VerifiedEvent {
  id: string
  type: string
  created: number
  object: Record<string, unknown>
}

export interface PaymentProvider {
  createCustomer: (userId: string) => Promise<string>
  createCheckout: (c: NewCheckout) => Promise<{ id: string, url: string }>
  paymentIntent: (id: string) => Promise<PaidIntent>
  subscription: (id: string) => Promise<SubscriptionState>
  invoice: (id: string) => Promise<InvoiceState>
  /** Refunds a payment in full; refunding a refunded one throws ALREADY_REFUNDED. */
  refund: (paymentIntent: string, key: string, metadata: Record<string, string>) => Promise<void>
  cancelSubscription: (id: string) => Promise<void>
  portal: (customerId: string, returnUrl: string) => Promise<string>
  /** Checks the signature of the raw body; throws WEBHOOK_SIGNATURE_INVALID. */
  verify: (rawBody: Buffer, signature: string | undefined) => VerifiedEvent
}

export interface StripeSettings {
  apiUrl: string
  secretKey: string
  webhookSecret: string
  toleranceSeconds: number
  timeoutMs: number
  maxRetries: number
}

const idOf = (v: unknown): string | null =>
  typeof v === 'string' ? v : (typeof v === 'object' && v !== null && typeof (v as { id?: unknown }).id === 'string')
    ? (v as { id: string }).id
    : null

/** Stripe's errors as the service's: unreachable or overloaded → 503 naming stripe; a refusal → 502. */
export function stripeFailure (err: unknown): Error {
  if (!(err instanceof Stripe.errors.StripeError)) return err as Error
  if (err.code === 'charge_already_refunded') return errors.ALREADY_REFUNDED()
  if (err instanceof Stripe.errors.StripeConnectionError || err instanceof Stripe.errors.StripeAPIError ||
    err instanceof Stripe.errors.StripeRateLimitError || err instanceof Stripe.errors.StripeAuthenticationError ||
    err instanceof Stripe.errors.StripePermissionError || err instanceof Stripe.errors.StripeIdempotencyError ||
    (err.statusCode ?? 0) >= 500) {
    return commonErrors.DEPENDENCY_UNAVAILABLE('stripe', `Stripe is unavailable (${err.type}), try again shortly`)
  }
  return errors.STRIPE_REFUSED(err.message)
}

async function call<T> (work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    throw stripeFailure(err)
  }
}

export function stripeProvider (s: StripeSettings): PaymentProvider {
  const api = new URL(s.apiUrl)
  const stripe = new Stripe(s.secretKey, {
    host: api.hostname,
    port: api.port === '' ? (api.protocol === 'https:' ? 443 : 80) : Number(api.port),
    protocol: api.protocol === 'https:' ? 'https' : 'http',
    timeout: s.timeoutMs,
    maxNetworkRetries: s.maxRetries,
    appInfo: { name: 'holo-billing' },
    telemetry: false
  })
  return {
    createCustomer: async (userId) => await call(async () => (await stripe.customers.create(
      { metadata: { userId } }, { idempotencyKey: `holo-customer-${userId}` })).id),

    createCheckout: async (c) => await call(async () => {
      const metadata = { ...c.metadata } as Record<string, string>
      const subscription = 'price' in c.line
      const session = await stripe.checkout.sessions.create({
        mode: subscription ? 'subscription' : 'payment',
        customer: c.customerId,
        client_reference_id: c.metadata.userId,
        line_items: [subscription
          ? { price: (c.line as { price: string }).price, quantity: 1 }
          : {
              quantity: 1,
              price_data: {
                currency: (c.line as { currency: string }).currency,
                unit_amount: (c.line as { amount: number }).amount,
                product_data: { name: (c.line as { name: string }).name }
              }
            }],
        metadata,
        ...(subscription
          ? { subscription_data: { metadata } }
          : { payment_intent_data: { metadata } }),
        success_url: c.successUrl,
        cancel_url: c.cancelUrl,
        expires_at: Math.floor(c.expiresAt.getTime() / 1000)
      }, { idempotencyKey: `holo-checkout-${c.checkoutId}` })
      if (session.url === null) throw new Error('Stripe returned a Checkout Session without a url')
      return { id: session.id, url: session.url }
    }),

    paymentIntent: async (id) => await call(async () => {
      const pi = await stripe.paymentIntents.retrieve(id, { expand: ['latest_charge.balance_transaction'] })
      const charge = typeof pi.latest_charge === 'object' ? pi.latest_charge : null
      const txn = charge !== null && typeof charge.balance_transaction === 'object' ? charge.balance_transaction : null
      return {
        id: pi.id,
        amount: pi.amount_received,
        currency: pi.currency,
        metadata: { ...pi.metadata },
        succeeded: pi.status === 'succeeded',
        stripeFee: txn?.fee ?? null,
        refunded: charge?.refunded ?? false
      }
    }),

    subscription: async (id) => await call(async () => {
      const sub = await stripe.subscriptions.retrieve(id)
      const ends = sub.items.data.map((i) => i.current_period_end)
      return {
        id: sub.id,
        customer: idOf(sub.customer) ?? '',
        status: sub.status,
        currentPeriodEnd: ends.length === 0 ? null : new Date(Math.max(...ends) * 1000),
        cancelAtPeriodEnd: sub.cancel_at_period_end,
        metadata: { ...sub.metadata }
      }
    }),

    invoice: async (id) => await call(async () => {
      const inv = await stripe.invoices.retrieve(id, { expand: ['payments'] })
      const details = inv.parent?.subscription_details
      const payment = inv.payments?.data.find((p) => p.status === 'paid')?.payment
      return {
        id: inv.id as string,
        status: inv.status ?? 'draft',
        billingReason: inv.billing_reason,
        amountPaid: inv.amount_paid,
        currency: inv.currency,
        subscription: idOf(details?.subscription),
        metadata: { ...(details?.metadata ?? {}) },
        paymentIntent: idOf(payment?.payment_intent)
      }
    }),

    refund: async (paymentIntent, key, metadata) => {
      await call(async () => await stripe.refunds.create({ payment_intent: paymentIntent, metadata },
        { idempotencyKey: key }))
    },

    cancelSubscription: async (id) => {
      await call(async () => await stripe.subscriptions.cancel(id))
    },

    portal: async (customerId, returnUrl) => await call(async () =>
      (await stripe.billingPortal.sessions.create({ customer: customerId, return_url: returnUrl })).url),

    verify: (rawBody, signature) => {
      if (signature === undefined || signature === '') throw errors.WEBHOOK_SIGNATURE_INVALID('the header is missing')
      let event: Stripe.Event
      try {
        event = stripe.webhooks.constructEvent(rawBody, signature, s.webhookSecret, s.toleranceSeconds)
      } catch (err) {
        if (err instanceof Stripe.errors.StripeSignatureVerificationError) {
          const stale = /tolerance/i.test(err.message)
          throw errors.WEBHOOK_SIGNATURE_INVALID(stale
            ? `its timestamp is older than ${s.toleranceSeconds} s`
            : 'no signature matches the payload with this endpoint\'s secret')
        }
        throw errors.WEBHOOK_PAYLOAD_INVALID('the body is not JSON')
      }
      // Stripe's check bounds the age only; a timestamp far ahead of our clock is refused as well.
      const t = /(?:^|,)t=(\d+)/.exec(Buffer.isBuffer(signature) ? signature.toString() : String(signature))?.[1]
      if (t !== undefined && Number(t) > Date.now() / 1000 + s.toleranceSeconds) {
        throw errors.WEBHOOK_SIGNATURE_INVALID(`its timestamp is more than ${s.toleranceSeconds} s in the future`)
      }
      const object = (event as { data?: { object?: unknown } }).data?.object
      if (typeof event.id !== 'string' || typeof event.type !== 'string' || typeof object !== 'object' ||
        object === null || typeof event.created !== 'number') {
        throw errors.WEBHOOK_PAYLOAD_INVALID('it lacks id, type, created or data.object')
      }
      return { id: event.id, type: event.type, created: event.created, object: object as Record<string, unknown> }
    }
  }
}
