import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '@holo/shared'
import { Type } from 'typebox'
import type { WebhookService } from './webhooks.service.js'

const ReceivedSchema = Type.Object({
  received: Type.Boolean(),
  outcome: Type.Enum(['applied', 'duplicate', 'ignored'], {
    description: 'applied: its effect was committed; duplicate: this event id was handled before; ignored: a type ' +
      'the service does not handle'
  })
})

/** Stripe's webhook endpoint: public, authenticated by the signature of its exact bytes. */
export const webhookRoutes: FastifyPluginAsyncTypebox<{ service: WebhookService }> = async (app, { service }) => {
  // The signature covers the raw bytes: this scope keeps JSON bodies as they came (a Buffer), unparsed.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 512 * 1024 }, (_request, body, done) => {
    done(null, body)
  })

  app.post('/api/v1/billing/webhooks/stripe', {
    config: { auth: 'public' },
    schema: {
      tags: ['webhooks'],
      summary: 'Stripe webhook endpoint',
      description: 'Verifies Stripe-Signature (HMAC-SHA256 of the raw body with the endpoint\'s signing secret, ' +
        'timestamp within STRIPE_WEBHOOK_TOLERANCE_SECONDS), stores each event id and ignores a repeat. Handles ' +
        'checkout.session.completed, .async_payment_succeeded and .expired, invoice.paid and .payment_failed, customer.subscription.created, ' +
        '.updated and .deleted, charge.refunded; other types are acknowledged and ignored. 503 when Stripe cannot ' +
        'be asked for the current state (Stripe delivers again later).',
      headers: Type.Object({ 'stripe-signature': Type.Optional(Type.String({ maxLength: 4096 })) }),
      response: { 200: ReceivedSchema, ...problemResponses(400, 413, 415, 503) }
    }
  }, async (request) => {
    const body = request.body
    const raw = Buffer.isBuffer(body) ? body : Buffer.alloc(0)
    const { event, outcome } = await service.receive(raw, request.headers['stripe-signature'])
    request.log.debug({ stripeEvent: event.id, stripeType: event.type, outcome }, 'stripe webhook')
    return { received: true, outcome }
  })
}
