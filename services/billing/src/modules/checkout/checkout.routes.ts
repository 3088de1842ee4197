import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '@holo/shared'
import type { CheckoutService } from './checkout.service.js'
import { CheckoutRequestSchema, CheckoutSessionSchema } from './checkout.schemas.js'

export const checkoutRoutes: FastifyPluginAsyncTypebox<{ service: CheckoutService }> = async (app, { service }) => {
  app.post('/api/v1/billing/checkout', {
    config: { auth: 'required' },
    schema: {
      tags: ['checkout'],
      summary: 'Start a Stripe Checkout for a premium template or Holo+',
      description: 'The price is the server\'s (the template\'s price now, or Holo+\'s); a later price change does ' +
        'not change this checkout. A second request while a checkout for the same thing is open returns the same ' +
        'session. 404: no such template; 400 TEMPLATE_NOT_FOR_SALE: archived, not premium or without a price; ' +
        '409 ALREADY_OWNED: you have it already (or are its author); 503: Stripe or the card service is unavailable.',
      body: CheckoutRequestSchema,
      response: { 200: CheckoutSessionSchema, ...problemResponses(400, 404, 409, 502, 503) }
    }
  }, async (request) => await service.start(request.caller, request.body, request.id))
}
