// Starting a checkout: the price comes from the server (the card service's template, or Holo+'s configured
// price), what one owns already is refused, and a double click finds the open checkout instead of making a
// second: its id is Stripe's idempotency key, so even two requests at once make one Checkout Session.
import type { AuthUser } from '@holo/shared'
import { v7 as uuidv7 } from 'uuid'
import { errors } from '../../errors.js'
import type { PaymentProvider, Product } from '../stripe/stripe.gateway.js'
import type { CheckoutRow, PaymentsRepository } from '../payments/payments.repository.js'
import type { TemplateCatalog } from './templates.client.js'
import type { CheckoutRequest, CheckoutSession } from './checkout.schemas.js'

export interface CheckoutSettings {
  publicUrl: string
  successPath: string
  cancelPath: string
  ttlSeconds: number
  holoPlus: { price: string, amount: number, currency: string }
}

interface Offer {
  product: Product
  target: string
  templateId: string | null
  authorId: string | null
  amount: number
  currency: string
  line: { amount: number, currency: string, name: string } | { price: string }
}

/** A reused open checkout must still have this long to go, or a new one starts. */
const MIN_REMAINING_MS = 5 * 60_000

export class CheckoutService {
  constructor (
    private readonly repo: PaymentsRepository,
    private readonly stripe: PaymentProvider,
    private readonly templates: TemplateCatalog,
    private readonly s: CheckoutSettings
  ) {}

  async start (user: AuthUser, input: CheckoutRequest, requestId: string): Promise<CheckoutSession> {
    const offer = 'templateId' in input
      ? await this.templateOffer(user, input.templateId.toLowerCase(), requestId)
      : await this.holoPlusOffer(user)
    const customer = await this.customer(user.id)
    const row = await this.checkout(user.id, offer)
    if (row.stripeSessionId !== null && row.url !== null) return this.view(row, row.stripeSessionId, row.url)
    const session = await this.stripe.createCheckout({
      checkoutId: row.id,
      customerId: customer,
      metadata: {
        holoCheckoutId: row.id,
        userId: user.id,
        product: offer.product,
        ...(offer.templateId === null ? {} : { templateId: offer.templateId }),
        ...(offer.authorId === null ? {} : { authorId: offer.authorId })
      },
      line: offer.line,
      successUrl: this.s.publicUrl + this.s.successPath,
      cancelUrl: this.s.publicUrl + this.s.cancelPath,
      expiresAt: row.expiresAt
    })
    await this.repo.setSession(row.id, session.id, session.url)
    return this.view(row, session.id, session.url)
  }

  private view (row: CheckoutRow, sessionId: string, url: string): CheckoutSession {
    return { sessionId, url, amount: row.amount, currency: row.currency, expiresAt: row.expiresAt.toISOString() }
  }

  private async templateOffer (user: AuthUser, templateId: string, requestId: string): Promise<Offer> {
    const t = await this.templates(templateId, requestId)
    if (t === null || t.status === 'draft') throw errors.TEMPLATE_NOT_FOUND()
    if (t.status !== 'published') throw errors.TEMPLATE_NOT_FOR_SALE(`it is ${t.status}`)
    if (!t.premium) throw errors.TEMPLATE_NOT_FOR_SALE('it is not premium: anyone may use it for free')
    if (t.price === null) throw errors.TEMPLATE_NOT_FOR_SALE('its author has not set a price')
    if (t.authorId === user.id) throw errors.ALREADY_OWNED('this template: you are its author')
    if (await this.repo.activeEntitlement(user.id, templateId) !== null) throw errors.ALREADY_OWNED('this template')
    return {
      product: 'template',
      target: templateId,
      templateId,
      authorId: t.authorId,
      amount: t.price.amount,
      currency: t.price.currency,
      line: { amount: t.price.amount, currency: t.price.currency, name: t.name }
    }
  }

  private async holoPlusOffer (user: AuthUser): Promise<Offer> {
    const active = await this.repo.activeEntitlement(user.id, 'holo-plus')
    if (active !== null) {
      throw errors.ALREADY_OWNED(`Holo+ (paid until ${active.validUntil?.toISOString() ?? 'further notice'}; ` +
        'manage it in the billing portal)')
    }
    const p = this.s.holoPlus
    return {
      product: 'holo-plus',
      target: 'holo-plus',
      templateId: null,
      authorId: null,
      amount: p.amount,
      currency: p.currency,
      line: { price: p.price }
    }
  }

  private async customer (userId: string): Promise<string> {
    const known = await this.repo.customerOf(userId)
    if (known !== null) return known
    return await this.repo.saveCustomer(userId, await this.stripe.createCustomer(userId))
  }

  /** The user's open checkout for this offer at this price, or a new one. */
  private async checkout (userId: string, offer: Offer): Promise<CheckoutRow> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const open = await this.repo.openCheckout(userId, offer.target)
      if (open !== null) {
        const usable = open.amount === offer.amount && open.currency === offer.currency &&
          open.expiresAt.getTime() - Date.now() > MIN_REMAINING_MS
        if (usable) return open
        // The price changed (or it is about to expire): that checkout keeps its price; a new one starts.
        await this.repo.supersede(open.id)
      }
      const created = await this.repo.insertCheckout({
        id: uuidv7(),
        userId,
        product: offer.product,
        target: offer.target,
        templateId: offer.templateId,
        authorId: offer.authorId,
        amount: offer.amount,
        currency: offer.currency,
        expiresAt: new Date(Date.now() + this.s.ttlSeconds * 1000)
      })
      if (created !== null) return created
    }
    throw new Error('could not open a checkout after three attempts')
  }
}
