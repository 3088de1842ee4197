import type { AddressInfo } from 'node:net'
import t from 'tap'
import { buildTestApp, leftovers, makeImage } from './helper.js'

const CD = 'Content-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'

t.test('malformed multipart bodies are a 400 problem and leave nothing behind', async (t) => {
  const ta = await buildTestApp(t)
  const alice = ta.user()
  const png = await makeImage({ seed: 21 })
  type Res = Awaited<ReturnType<typeof ta.app.inject>>
  const post = async (contentType: string, payload: string | Buffer): Promise<Res> => await ta.app.inject({
    method: 'POST', url: '/api/v1/files', headers: { ...alice.headers, 'content-type': contentType }, payload
  })

  const B = 'multipart/form-data; boundary=B'
  const cases: Array<[string, string, string | Buffer]> = [
    ['truncated right after the first boundary', B, '--B\r\nhello--B--'],
    ['truncated inside the file part', B, Buffer.concat([Buffer.from(`--B\r\n${CD}`), png])],
    ['truncated inside the part headers', B, '--B\r\nContent-Disposition: form-data; na'],
    ['no boundary parameter', 'multipart/form-data', `--B\r\n${CD}x\r\n--B--\r\n`],
    ['an empty boundary parameter', 'multipart/form-data; boundary=', `--\r\n${CD}x\r\n----\r\n`],
    ['a part header that is not a header', B, '--B\r\nthis is not a header\r\n\r\nx\r\n--B--\r\n'],
    ['another boundary', B, Buffer.concat([Buffer.from(`--C\r\n${CD}`), png, Buffer.from('\r\n--C--\r\n')])],
    ['an empty body', B, ''],
    ['only the closing delimiter', B, '--B--\r\n']
  ]
  for (const [name, contentType, payload] of cases) {
    const res = await post(contentType, payload)
    t.equal(res.statusCode, 400, `${name}: 400 (${res.body})`)
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${name}: problem+json`)
    t.equal(res.json().code, 'MALFORMED_MULTIPART', `${name}: code`)
    t.match(res.json().detail, /multipart/i, `${name}: says what is wrong`)
    const left = await leftovers(ta)
    t.same(left, { rows: 0, objects: [], temp: [] }, `${name}: no row, no object, no temp file`)
  }

  // Before this was mapped, @fastify/multipart answered 406 (a status no route documents).
  const badJson = '--B\r\nContent-Disposition: form-data; name="purpose"\r\nContent-Type: application/json\r\n\r\n' +
    '{bad\r\n--B--\r\n'
  const jsonField = await post(B, badJson)
  t.equal(jsonField.statusCode, 400, jsonField.body)
  t.equal(jsonField.json().code, 'INVALID_FIELD')
  t.same(await leftovers(ta), { rows: 0, objects: [], temp: [] })

  // Over a real socket too: the case from the bug report.
  await ta.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = ta.app.server.address() as AddressInfo
  const real = await fetch(`http://127.0.0.1:${port}/api/v1/files`, {
    method: 'POST',
    headers: { ...alice.headers, 'content-type': 'multipart/form-data; boundary=B' },
    body: '--B\r\nhello--B--'
  })
  t.equal(real.status, 400)
  t.equal(real.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  t.equal((await real.json()).code, 'MALFORMED_MULTIPART')
  t.same(await leftovers(ta), { rows: 0, objects: [], temp: [] })

  // A well-formed body still goes through after all that.
  const good = Buffer.concat([Buffer.from(`--B\r\n${CD}`), png, Buffer.from('\r\n--B--\r\n')])
  const ok = await post('multipart/form-data; boundary=B', good)
  t.equal(ok.statusCode, 201, ok.body)
})
