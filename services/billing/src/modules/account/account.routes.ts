import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdParamsSchema, problemResponses } from '@holo/shared'
import type { AccountService } from './account.service.js'
import {
  EarningsSchema, EntitlementsSchema, PortalSchema, PurchasePageSchema, PurchaseSchema, PurchasesQuerySchema
} from './account.schemas.js'

export const accountRoutes: FastifyPluginAsyncTypebox<{ service: AccountService }> = async (app, { service }) => {
  const auth = { auth: 'required' as const }
  app.get('/api/v1/billing/entitlements', {
    config: auth,
    schema: {
      tags: ['account'],
      summary: 'Your entitlements (templates bought, Holo+) and subscriptions',
      response: { 200: EntitlementsSchema, ...problemResponses(503) }
    }
  }, async (request, reply) => {
    reply.header('cache-control', 'private, no-store')
    return await service.entitlements(request.caller.id)
  })

  app.get('/api/v1/billing/purchases', {
    config: auth,
    schema: {
      tags: ['account'],
      summary: 'Your purchases, newest first',
      querystring: PurchasesQuerySchema,
      response: { 200: PurchasePageSchema, ...problemResponses(400, 503) }
    }
  }, async (request) => await service.purchases(request.caller.id, request.query))

  app.get('/api/v1/billing/purchases/:id', {
    config: auth,
    schema: {
      tags: ['account'],
      summary: 'One of your purchases (another user\'s is a 404)',
      params: IdParamsSchema,
      response: { 200: PurchaseSchema, ...problemResponses(400, 404, 503) }
    }
  }, async (request) => await service.purchase(request.caller.id, request.params.id.toLowerCase()))

  app.post('/api/v1/billing/portal', {
    config: auth,
    schema: {
      tags: ['account'],
      summary: 'Open Stripe\'s customer portal (cancel Holo+, change the card)',
      description: '404 NO_BILLING_ACCOUNT before your first checkout.',
      response: { 200: PortalSchema, ...problemResponses(404, 502, 503) }
    }
  }, async (request) => await service.portal(request.caller.id))

  app.get('/api/v1/billing/earnings', {
    config: auth,
    schema: {
      tags: ['account'],
      summary: 'What your templates earned: totals per currency and your ledger lines',
      response: { 200: EarningsSchema, ...problemResponses(503) }
    }
  }, async (request) => await service.earnings(request.caller.id))
}
