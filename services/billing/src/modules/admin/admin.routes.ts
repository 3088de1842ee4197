import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdParamsSchema, problemResponses } from '@holo/shared'
import { PurchaseSchema } from '../account/account.schemas.js'
import { toPurchase } from '../account/account.service.js'
import type { PaymentsService } from '../payments/payments.service.js'
import type { AdminService } from './admin.service.js'
import { RevenueQuerySchema, RevenueSchema } from './admin.schemas.js'

export const adminRoutes: FastifyPluginAsyncTypebox<{ admin: AdminService, payments: PaymentsService }> = async (
  app, { admin, payments }
) => {
  app.get('/api/v1/billing/revenue', {
    config: { auth: 'required', permissions: ['billing.read'] },
    schema: {
      tags: ['admin'],
      summary: 'Revenue by hour, day or month and currency, from the ledger (billing.read)',
      querystring: RevenueQuerySchema,
      response: { 200: RevenueSchema, ...problemResponses(400, 503) }
    }
  }, async (request) => await admin.revenue(request.query))

  app.post('/api/v1/billing/payments/:id/refund', {
    config: { auth: 'required', permissions: ['billing.refund'] },
    schema: {
      tags: ['admin'],
      summary: 'Refund a payment in full (billing.refund; audited)',
      description: 'Refunds through Stripe, reverses the ledger entries, revokes the entitlement (Holo+ is also ' +
        'cancelled) and publishes payment.refunded with you as the actor, which the audit log records. 409 when ' +
        'it was refunded already.',
      params: IdParamsSchema,
      response: { 200: PurchaseSchema, ...problemResponses(400, 404, 409, 502, 503) }
    }
  }, async (request) => {
    const refunded = await payments.refund(request.params.id.toLowerCase(), request.caller.id)
    request.log.warn({ payment: refunded.id, admin: request.caller.id, amount: refunded.amount }, 'payment refunded by an administrator')
    return toPurchase(refunded)
  })
}
