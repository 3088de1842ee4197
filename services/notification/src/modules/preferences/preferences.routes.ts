import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '@holo/shared'
import type { PreferencePatch, PreferencesService } from './preferences.service.js'
import { PreferencesPatchSchema, PreferencesSchema } from './preferences.schemas.js'

const tags = ['notifications']

/** The signed-in user's preferences (register inside `authenticated`). */
export const preferencesRoutes: FastifyPluginAsyncTypebox<{ service: PreferencesService }> = async (
  app, { service }
) => {
  app.get('/api/v1/notifications/preferences', {
    schema: {
      tags,
      summary: 'Your notification preferences, per type',
      response: { 200: { ...PreferencesSchema, description: 'Every type, with its in-app and email setting' } }
    }
  }, async (request, reply) => {
    const types = await service.get(request.caller.id)
    return reply.header('cache-control', 'no-store').send({ types })
  })

  app.put('/api/v1/notifications/preferences', {
    schema: {
      tags,
      summary: 'Change some of your notification preferences',
      description: 'A partial map: types and fields left out keep their setting. Mail about security types ' +
        'cannot be turned off (400 naming the type).',
      body: PreferencesPatchSchema,
      response: { 200: { ...PreferencesSchema, description: 'Every type, after the change' }, ...problemResponses(400) }
    }
  }, async (request) => ({ types: await service.update(request.caller.id, request.body.types as PreferencePatch) }))
}
