// What the file service publishes: an upload or a delete writes its event in
// the same transaction (outbox), the relay moves it to the file stream, and a
// refused request publishes nothing.
import t from 'tap'
import { eventually, outboxEvents, streamedEvents } from '@holo/infra/testing'
import { buildTestApp, makeImage, upload } from './helper.js'

t.test('file events', async (t) => {
  const ta = await buildTestApp(t)
  const prefix = ta.config.EVENTS_STREAM_PREFIX
  const alice = ta.user()
  const image = await makeImage({ width: 40, height: 30, noise: true })

  const form = await upload(ta, alice, image)
  t.equal(form.statusCode, 201)
  const file = form.json()
  const [uploaded] = await outboxEvents(ta.db, 'file', ['holo.file.uploaded.v1'])
  t.match(uploaded, {
    type: 'holo.file.uploaded.v1',
    source: 'holo-file',
    subject: file.id,
    actorid: alice.id,
    requestid: form.headers['x-request-id'],
    clientip: '127.0.0.1',
    subjectseq: 1,
    data: { ownerId: alice.id, size: file.size, contentType: 'image/png', purpose: 'artwork' }
  }, 'the upload, with who made it, from where and in which request')

  t.ok(await eventually(async () => (await streamedEvents(prefix, 'file')).some((e) => e.id === uploaded?.id)),
    'the relay publishes it on the file stream')

  t.equal((await upload(ta, alice, image)).statusCode, 200, 'the same bytes again: the same file')
  t.equal((await upload(ta, alice, Buffer.from('not an image'))).statusCode, 415, 'a refused upload')
  t.equal((await outboxEvents(ta.db, 'file')).length, 1, 'neither publishes anything')


  const bob = ta.user()
  t.equal((await ta.app.inject({ method: 'DELETE', url: `/api/v1/files/${file.id}`, headers: bob.headers }))
    .statusCode, 403, 'someone else cannot delete it')
  const gone = await ta.app.inject({ method: 'DELETE', url: `/api/v1/files/${file.id}`, headers: alice.headers })
  t.equal(gone.statusCode, 204)
  const events = await outboxEvents(ta.db, 'file')
  t.same(events.map((e) => e.type), ['holo.file.uploaded.v1', 'holo.file.deleted.v1'])
  t.match(events[1], {
    subject: file.id, actorid: alice.id, subjectseq: 2, data: { ownerId: alice.id, size: file.size }
  }, 'the delete, second in the file\'s sequence')
  t.ok(await eventually(async () => (await streamedEvents(prefix, 'file')).length === 2), 'both published, once')
  t.same((await streamedEvents(prefix, 'file')).map((e) => e.type), ['holo.file.uploaded.v1', 'holo.file.deleted.v1'])
})
