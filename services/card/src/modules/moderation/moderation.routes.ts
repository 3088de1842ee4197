import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdParamsSchema, problemResponses } from '@holo/shared'
import type { ModerationService } from './moderation.service.js'
import {
  CreateReportSchema, ReportQueueQuerySchema, ReportQueueSchema, ReportSchema, ResolutionSchema, ResolveReportSchema
} from './moderation.schemas.js'

const tags = ['moderation']

export const moderationRoutes: FastifyPluginAsyncTypebox<{ service: ModerationService }> = async (app, { service }) => {
  app.post('/api/v1/cards/:id/reports', {
    config: { auth: 'required' },
    schema: {
      tags,
      operationId: 'reportCard',
      summary: 'Report a card to the moderators',
      params: IdParamsSchema,
      body: CreateReportSchema,
      description: 'Any signed-in user, for a card they can see (else 404 CARD_NOT_FOUND). Your own card is a 400 ' +
        'OWN_CARD_REPORTED; a second open report of yours on the same card a 409 REPORT_ALREADY_OPEN. When ' +
        'MODERATION_AUTO_HIDE_REPORTS distinct users have an open report on a card, it is hidden pending review.',
      response: { 201: { ...ReportSchema, description: 'The report, open' }, ...problemResponses(400, 404, 409, 503) }
    }
  }, async (request, reply) => {
    const report = await service.report(request.caller, request.params.id, request.body)
    return reply.code(201).send(report)
  })

  app.get('/api/v1/moderation/reports', {
    config: { auth: 'required', permissions: ['reports.resolve'] },
    schema: {
      tags,
      operationId: 'listReports',
      summary: 'The moderation queue: reported cards with their reports, oldest first report first',
      querystring: ReportQueueQuerySchema,
      description: 'Needs reports.resolve (moderators and administrators). One item per card, with the reports ' +
        'of the asked status (and ' +
        'reason); keyset-paginated by the card\'s first report (a forged cursor is a 400 INVALID_CURSOR).',
      response: {
        200: { ...ReportQueueSchema, description: 'A page of reported cards' },
        ...problemResponses(400, 503)
      }
    }
  }, async (request) => await service.queue(request.query))

  app.post('/api/v1/moderation/reports/:id/resolve', {
    config: { auth: 'required', permissions: ['reports.resolve'] },
    schema: {
      tags,
      operationId: 'resolveReport',
      summary: 'Resolve every open report of the report\'s card: hide it, dismiss them, or warn its owner',
      params: IdParamsSchema,
      body: ResolveReportSchema,
      description: 'Needs reports.resolve (moderators and administrators). Resolves, in one transaction, every ' +
        'open report of the card ' +
        'the report is about, hides the card for `hide` (as POST /cards/{id}/hide does; a card hidden ' +
        'automatically by reports and dismissed is shown again), and notifies the reporters and the owner. ' +
        'A report resolved already is a 409 REPORT_ALREADY_RESOLVED; an unknown one a 404 REPORT_NOT_FOUND.',
      response: {
        200: { ...ResolutionSchema, description: 'What was resolved' },
        ...problemResponses(400, 404, 409, 503)
      }
    }
  }, async (request) => await service.resolve(request.caller, request.params.id, request.body))
}
