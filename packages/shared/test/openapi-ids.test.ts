import t from 'tap'
import Fastify from 'fastify'
import { defaultOperationId, openapiPlugin } from '../src/plugins/openapi.js'

t.test('operationIds derived from method and route template', async (t) => {
  t.equal(defaultOperationId('POST', '/api/v1/cards'), 'createCard')
  t.equal(defaultOperationId('GET', '/api/v1/cards'), 'listCards')
  t.equal(defaultOperationId('GET', '/api/v1/files/:id'), 'getFile')
  t.equal(defaultOperationId('PATCH', '/api/v1/templates/:id'), 'updateTemplate')
  t.equal(defaultOperationId('DELETE', '/api/v1/collections/:id/cards/:cardId'), 'deleteCollectionCard')
  t.equal(defaultOperationId('POST', '/api/v1/auth/login'), 'authLogin')
  t.equal(defaultOperationId('GET', '/api/v1/files/:id/signed-url'), 'getFileSignedUrl')
})

t.test('every documented operation has one; a route\'s own wins', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(openapiPlugin, { service: 'probe', title: 'probe', description: 'probe' })
  app.get('/api/v1/things/:id', { schema: { response: { 200: { type: 'object' } } } }, async () => ({}))
  app.post('/api/v1/things/:id/spin', { schema: { operationId: 'spinThing' } }, async () => ({}))
  await app.ready()
  const doc = app.swagger() as { paths: Record<string, Record<string, { operationId?: string }>> }
  t.equal(doc.paths['/api/v1/things/{id}']?.get?.operationId, 'getThing')
  t.equal(doc.paths['/api/v1/things/{id}/spin']?.post?.operationId, 'spinThing')
})
