import { randomBytes } from 'node:crypto'
import t from 'tap'
import { testGateway } from '@holo/infra/testing'
import { buildTestApp, imageForm, makeImage } from './helper.js'

const MiB = 1024 * 1024

t.test('through the nginx gateway', async (t) => {
  const ta = await buildTestApp(t)
  const address = new URL(await ta.app.listen({ port: 0, host: '127.0.0.1' }))
  const gw = await testGateway(t, { auth: '127.0.0.1:9', card: '127.0.0.1:9', file: address.host })
  const alice = ta.user()
  const post = async (payload: Buffer, headers: Record<string, string>): Promise<Response> =>
    await fetch(`${gw.url}/api/v1/files`, {
      method: 'POST',
      headers: { ...alice.headers, ...headers },
      body: new Uint8Array(payload)
    })

  t.test('an upload streams through and comes back by a signed URL without a token', async (t) => {
    const form = imageForm(await makeImage({ width: 300, height: 300, noise: true }))
    const res = await post(form.payload, form.headers)
    t.equal(res.status, 201)
    const file = await res.json() as { id: string, size: number }
    const signed = await fetch(`${gw.url}/api/v1/files/${file.id}/signed-url?expiresIn=60`, { headers: alice.headers })
    const { url } = await signed.json() as { url: string }
    const content = await fetch(`${gw.url}${url}`)
    t.equal(content.status, 200)
    t.equal(content.headers.get('content-type'), 'image/png')
    t.equal((await content.arrayBuffer()).byteLength, file.size)
    const tampered = await fetch(`${gw.url}${url.replace(/sig=./, 'sig=_')}`)
    t.equal(tampered.status, 403)
    const range = await fetch(`${gw.url}/api/v1/files/${file.id}/content`, { headers: { range: 'bytes=0-9' } })
    t.equal(range.status, 206)
    t.equal(range.headers.get('content-range'), `bytes 0-9/${file.size}`)
    t.equal((await range.arrayBuffer()).byteLength, 10)
  })

  t.test('a body far over the limit is refused by nginx as problem+json', async (t) => {
    const form = imageForm(randomBytes(17 * MiB))
    const res = await post(form.payload, form.headers)
    t.equal(res.status, 413)
    t.equal(res.headers.get('content-type'), 'application/problem+json')
    t.match(await res.json(), { status: 413, code: 'PAYLOAD_TOO_LARGE', instance: '/api/v1/files' })
  })

  t.test('a body a little over the service limit is refused by the service', async (t) => {
    const form = imageForm(randomBytes(11 * MiB))
    const res = await post(form.payload, form.headers)
    t.equal(res.status, 413)
    t.match(res.headers.get('content-type'), /^application\/problem\+json/)
    t.match(await res.json(), { code: 'FILE_TOO_LARGE', detail: /10 MiB/ })
    t.equal(await ta.deps.prisma.file.count(), 1, 'no row')
  })
})
