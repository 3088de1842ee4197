import t from 'tap'
import { buildTestApp, makeImage, upload } from './helper.js'

t.test('a PNG upload is stored and described', async (t) => {
  const ta = await buildTestApp(t)
  const alice = ta.user()
  const png = await makeImage({ width: 64, height: 48 })
  const res = await upload(ta, alice, png, { fields: { purpose: 'avatar' } })
  t.equal(res.statusCode, 201, res.body)
  const body = res.json()
  t.equal(body.ownerId, alice.id)
  t.equal(body.purpose, 'avatar')
  t.equal(body.contentType, 'image/png')
  t.equal(body.width, 64)
  t.equal(body.height, 48)
  const content = await ta.app.inject({ url: `/api/v1/files/${body.id}/content` })
  t.equal(content.statusCode, 200)
  t.equal(content.headers['content-type'], 'image/png')
  t.equal(Number(content.headers['content-length']), body.size)
})
