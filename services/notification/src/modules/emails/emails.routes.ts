import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { problemResponses } from '@holo/shared'
import { errors } from '../../errors.js'
import type { PreferencesService } from '../preferences/preferences.service.js'
import { UNSUBSCRIBE_PATH } from './emails.job.js'
import { escapeHtml } from '../ingest/ingest.texts.js'
import type { UnsubscribeTokens } from './emails.unsubscribe.js'

const tags = ['notifications']

const QuerySchema = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 512, description: 'From the link in the mail' })
})

const page = (type: string): string =>
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Unsubscribed</title></head>' +
  '<body style="font-family: sans-serif"><h1>Unsubscribed</h1>' +
  `<p>You will no longer get mail about <strong>${escapeHtml(type)}</strong> notifications. ` +
  'You can turn it on again in your notification settings.</p></body></html>'

const HtmlResponse = {
  description: 'Done: a small page saying so',
  content: { 'text/html': { schema: Type.String() } }
}

/** The unsubscribe link of mail (public: the signed token is the proof); POST is RFC 8058 one-click. */
export const unsubscribeRoutes: FastifyPluginAsyncTypebox<{
  tokens: UnsubscribeTokens
  preferences: PreferencesService
}> = async (app, { tokens, preferences }) => {
  // One-click unsubscribe posts `List-Unsubscribe=One-Click` as a form, urlencoded or multipart (RFC 8058
  // asks mail providers for multipart); the token is in the URL, so the body is read and ignored.
  app.addContentTypeParser(['application/x-www-form-urlencoded', 'multipart/form-data'],
    { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => { done(null, body) })

  const handler = async (token: string): Promise<string> => {
    const found = tokens.verify(token)
    if (found === null) throw errors.INVALID_UNSUBSCRIBE_TOKEN()
    await preferences.emailOff(found.userId, found.type)
    return page(found.type)
  }

  app.get(UNSUBSCRIBE_PATH, {
    schema: {
      tags,
      summary: 'Turn off mail of one notification type (the link in a mail)',
      querystring: QuerySchema,
      response: { 200: HtmlResponse, ...problemResponses(400) }
    }
  }, async (request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(await handler(request.query.token)))

  app.post(UNSUBSCRIBE_PATH, {
    schema: {
      tags,
      summary: 'One-click unsubscribe (RFC 8058: List-Unsubscribe-Post)',
      querystring: QuerySchema,
      response: { 200: HtmlResponse, ...problemResponses(400) }
    }
  }, async (request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(await handler(request.query.token)))
}
