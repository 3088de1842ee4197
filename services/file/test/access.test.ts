import { randomUUID } from 'node:crypto'
import t from 'tap'
import sharp from 'sharp'
import { UrlSigner } from '../src/modules/files/signing.js'
import { buildTestApp, leftovers, makeImage, upload } from './helper.js'

const OLD_KEY = 'old-file-url-signing-key-0123456789abcdef'
const NEW_KEY = 'new-file-url-signing-key-0123456789abcdef'

t.test('reading, signing, listing and deleting files', async (t) => {
  const ta = await buildTestApp(t, { FILE_URL_SIGNING_KEYS: `${NEW_KEY},${OLD_KEY}` })
  const alice = ta.user()
  const bob = ta.user()
  const admin = ta.user(['admin'])
  const png = await makeImage({ width: 300, height: 200, noise: true })
  const pub = (await upload(ta, alice, png)).json()
  const priv = (await upload(ta, alice, await makeImage({ seed: 9 }), {
    fields: { visibility: 'private', purpose: 'template' }
  })).json()
  t.equal(priv.visibility, 'private')

  t.test('content headers', async (t) => {
    const res = await ta.app.inject({ url: pub.url })
    t.equal(res.statusCode, 200)
    t.ok(res.rawPayload.length === pub.size)
    t.match(res.headers, {
      'content-type': 'image/png',
      'content-length': String(pub.size),
      etag: `"${pub.id}"`,
      'cache-control': 'public, max-age=3600',
      'content-disposition': 'inline; filename="art.png"; filename*=UTF-8\'\'art.png',
      'x-content-type-options': 'nosniff',
      'accept-ranges': 'bytes'
    })
    const download = await ta.app.inject({ url: `${pub.url}?download=true` })
    t.match(download.headers['content-disposition'], /^attachment; filename="art.png"/)
    const again = await ta.app.inject({ url: pub.url, headers: { 'if-none-match': `"${pub.id}"` } })
    t.equal(again.statusCode, 304)
    t.equal(again.rawPayload.length, 0)
  })

  t.test('Range requests', async (t) => {
    const whole = (await ta.app.inject({ url: pub.url })).rawPayload
    const cases: Array<[string, number, number]> = [
      ['bytes=0-99', 0, 99],
      ['bytes=100-', 100, pub.size - 1],
      ['bytes=-50', pub.size - 50, pub.size - 1],
      [`bytes=10-${pub.size + 1000}`, 10, pub.size - 1]
    ]
    for (const [range, start, end] of cases) {
      const res = await ta.app.inject({ url: pub.url, headers: { range } })
      t.equal(res.statusCode, 206, range)
      t.equal(res.headers['content-range'], `bytes ${start}-${end}/${pub.size}`)
      t.equal(res.headers['content-length'], String(end - start + 1))
      t.ok(res.rawPayload.equals(whole.subarray(start, end + 1)), `${range}: the right bytes`)
    }
    const beyond = await ta.app.inject({ url: pub.url, headers: { range: `bytes=${pub.size}-` } })
    t.equal(beyond.statusCode, 416)
    t.equal(beyond.headers['content-range'], `bytes */${pub.size}`)
    t.equal(beyond.json().code, 'RANGE_NOT_SATISFIABLE')
    t.notOk(beyond.headers.etag, 'the problem carries no validators of the file')
    t.notOk(beyond.headers['content-disposition'])
    t.notMatch(beyond.headers['cache-control'] ?? '', /public/)
    const current = await ta.app.inject({
      url: pub.url,
      headers: { range: `bytes=${pub.size}-`, 'if-none-match': `W/"${pub.id}"` }
    })
    t.equal(current.statusCode, 304, 'If-None-Match (weakly) before Range')
    const several = await ta.app.inject({ url: pub.url, headers: { range: 'bytes=0-1,5-6' } })
    t.equal(several.statusCode, 200, 'several ranges: the whole file')
  })

  t.test('private files: owner and admins only, others get 404', async (t) => {
    for (const path of [`/api/v1/files/${priv.id}`, priv.url, `/api/v1/files/${priv.id}/thumbnail?w=64`]) {
      t.equal((await ta.app.inject({ url: path })).statusCode, 404, `anonymous ${path}`)
      const other = await ta.app.inject({ url: path, headers: bob.headers })
      t.equal(other.statusCode, 404, `another user ${path}`)
      t.equal(other.json().code, 'FILE_NOT_FOUND')
      t.equal((await ta.app.inject({ url: path, headers: alice.headers })).statusCode, 200, `owner ${path}`)
      t.equal((await ta.app.inject({ url: path, headers: admin.headers })).statusCode, 200, `admin ${path}`)
    }
    const own = await ta.app.inject({ url: priv.url, headers: alice.headers })
    t.equal(own.headers['cache-control'], 'private, no-cache')
    t.equal((await ta.app.inject({ url: `/api/v1/files/${priv.id}/signed-url`, headers: bob.headers })).statusCode, 404)
    t.equal((await ta.app.inject({
      method: 'DELETE',
      url: `/api/v1/files/${priv.id}`,
      headers: bob.headers
    })).statusCode, 404)
  })

  t.test('signed URLs work without a token until they expire', async (t) => {
    const res = await ta.app.inject({
      url: `/api/v1/files/${priv.id}/signed-url?expiresIn=600`,
      headers: alice.headers
    })
    t.equal(res.statusCode, 200)
    const { url, expiresAt } = res.json()
    t.match(url, new RegExp(`^/api/v1/files/${priv.id}/content\\?expires=\\d+&sig=[A-Za-z0-9_-]+$`))
    const seconds = (Date.parse(expiresAt) - Date.now()) / 1000
    t.ok(seconds > 590 && seconds <= 600, 'expires in 600 s')
    const ok = await ta.app.inject({ url })
    t.equal(ok.statusCode, 200)
    t.equal(ok.rawPayload.length, priv.size)
    t.match(ok.headers['cache-control'], /^private, max-age=\d+$/)

    const u = new URL(url, 'http://x')
    const expires = Number(u.searchParams.get('expires'))
    const sig = u.searchParams.get('sig') as string
    const tampered = [
      `/api/v1/files/${priv.id}/content?expires=${expires + 1}&sig=${sig}`,
      `/api/v1/files/${priv.id}/content?expires=${expires}&sig=${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`,
      `/api/v1/files/${pub.id}/content?expires=${expires}&sig=${sig}`,
      `/api/v1/files/${priv.id}/thumbnail?w=64&expires=${expires}&sig=${sig}`,
      `/api/v1/files/${priv.id}/content?expires=${expires}`
    ]
    for (const bad of tampered) {
      const r = await ta.app.inject({ url: bad })
      t.equal(r.statusCode, 403, bad)
      t.equal(r.json().code, 'SIGNATURE_INVALID')
    }
    const past = Math.floor(Date.now() / 1000) - 1
    const expired = new UrlSigner([NEW_KEY]).sign(priv.id, 'original', past)
    t.equal((await ta.app.inject({
      url: `/api/v1/files/${priv.id}/content?expires=${past}&sig=${expired}`
    })).statusCode, 403, 'expired')
  })

  t.test('key rotation: old keys still verify, unknown keys do not', async (t) => {
    const expires = Math.floor(Date.now() / 1000) + 60
    const byOld = new UrlSigner([OLD_KEY]).sign(priv.id, 'original', expires)
    t.equal((await ta.app.inject({
      url: `/api/v1/files/${priv.id}/content?expires=${expires}&sig=${byOld}`
    })).statusCode, 200)
    const byStranger = new UrlSigner(['some-other-key-0123456789abcdefghijkl']).sign(priv.id, 'original', expires)
    t.equal((await ta.app.inject({
      url: `/api/v1/files/${priv.id}/content?expires=${expires}&sig=${byStranger}`
    })).statusCode, 403)
  })

  t.test('signed URLs: owner only, bounded lifetime, thumbnails too', async (t) => {
    t.equal((await ta.app.inject({
      url: `/api/v1/files/${pub.id}/signed-url`,
      headers: bob.headers
    })).statusCode, 403, 'not the owner of a public file')
    t.equal((await ta.app.inject({ url: `/api/v1/files/${pub.id}/signed-url` })).statusCode, 401)
    const tooLong = await ta.app.inject({
      url: `/api/v1/files/${pub.id}/signed-url?expiresIn=99999999`,
      headers: alice.headers
    })
    t.equal(tooLong.statusCode, 400)
    const thumb = await ta.app.inject({ url: `/api/v1/files/${priv.id}/signed-url?w=128`, headers: alice.headers })
    t.equal(thumb.statusCode, 200)
    const res = await ta.app.inject({ url: thumb.json().url })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-type'], 'image/webp')
  })

  t.test('signed URLs: the maximum lifetime is in the schema and the document', async (t) => {
    const max = ta.config.FILE_SIGNED_URL_MAX_SECONDS
    const at = (n: number): string => `/api/v1/files/${pub.id}/signed-url?expiresIn=${n}`
    t.equal((await ta.app.inject({ url: at(max), headers: alice.headers })).statusCode, 200, 'the maximum itself')
    const over = await ta.app.inject({ url: at(max + 1), headers: alice.headers })
    t.equal(over.statusCode, 400)
    t.equal(over.json().code, 'VALIDATION_FAILED')
    t.match(over.json().errors, [{ field: 'expiresIn', in: 'querystring' }], 'names expiresIn')
    const doc = (await ta.app.inject({ url: '/openapi.json' })).json()
    const op = doc.paths['/api/v1/files/{id}/signed-url'].get
    const param = op.parameters.find((p: { name: string }) => p.name === 'expiresIn')
    t.match(param.schema, { type: 'integer', minimum: 1, maximum: max })
    t.match(op.description, new RegExp(`${max} seconds is a 400`))
  })

  t.test('ownership check: what other services ask before they store a reference to a file', async (t) => {
    const check = async (id: string, headers: Record<string, string> = {}): Promise<number> =>
      (await ta.app.inject({ url: `/api/v1/files/${id}/ownership`, headers })).statusCode
    t.equal(await check(pub.id, alice.headers), 204, 'the owner, public file')
    t.equal(await check(priv.id, alice.headers), 204, 'the owner, private file')
    t.equal(await check(priv.id, admin.headers), 204, 'an admin, any file')
    t.equal(await check(pub.id, bob.headers), 403, 'another user, public file')
    t.equal(await check(priv.id, bob.headers), 404, 'another user, private file: as if missing')
    t.equal(await check(randomUUID(), alice.headers), 404, 'missing')
    t.equal(await check(pub.id), 401, 'no token')
    t.equal(await check('not-a-uuid', alice.headers), 400)
    const foreign = await ta.app.inject({ url: `/api/v1/files/${pub.id}/ownership`, headers: bob.headers })
    t.equal(foreign.json().code, 'NOT_OWNER')
  })

  t.test('thumbnails are WebP, made once, then served from storage', async (t) => {
    const first = await ta.app.inject({ url: `/api/v1/files/${pub.id}/thumbnail?w=128` })
    t.equal(first.statusCode, 200)
    t.equal(first.headers['content-type'], 'image/webp')
    t.equal(first.headers.etag, `"${pub.id}-w128"`)
    const meta = await sharp(first.rawPayload).metadata()
    t.match(meta, { format: 'webp', width: 128 })
    const prefix = (await ta.deps.prisma.file.findUniqueOrThrow({ where: { id: pub.id } })).storageKey
      .replace(/original$/, '')
    const objects = (await leftovers(ta)).objects.filter((k) => k === `${prefix}thumbnail-128.webp`)
    t.equal(objects.length, 1, 'stored once')
    const second = await ta.app.inject({ url: `/api/v1/files/${pub.id}/thumbnail?w=128` })
    t.ok(second.rawPayload.equals(first.rawPayload))
    t.equal(second.headers['content-length'], String(first.rawPayload.length))
    const metrics = (await ta.app.inject({ url: '/metrics' })).body
    t.match(metrics, /cache_requests_total\{cache="thumbnail",result="miss",service="file"\} [1-9]/)
    t.match(metrics, /cache_requests_total\{cache="thumbnail",result="hit",service="file"\} [1-9]/)
    const def = await ta.app.inject({ url: `/api/v1/files/${pub.id}/thumbnail` })
    t.equal((await sharp(def.rawPayload).metadata()).width, 256, 'default width')
    const small = await upload(ta, alice, await makeImage({ width: 40, height: 30, seed: 44 }))
    const notEnlarged = await ta.app.inject({ url: `/api/v1/files/${small.json().id}/thumbnail?w=512` })
    t.equal((await sharp(notEnlarged.rawPayload).metadata()).width, 40, 'never enlarged')
    t.equal((await ta.app.inject({
      url: `/api/v1/files/${pub.id}/thumbnail?w=100`
    })).statusCode, 400, 'fixed widths only')
  })

  t.test('listing: own files, newest first, by purpose, with a cursor', async (t) => {
    const carol = ta.user()
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      ids.push((await upload(ta, carol, await makeImage({ seed: 200 + i }), {
        fields: { purpose: i % 2 === 0 ? 'artwork' : 'avatar' }
      })).json().id)
    }
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const qs: string = cursor === null ? 'limit=2' : `limit=2&cursor=${cursor}`
      const page = await ta.app.inject({ url: `/api/v1/files?${qs}`, headers: carol.headers })
      t.equal(page.statusCode, 200)
      const body = page.json() as { items: Array<{ id: string }>, nextCursor: string | null }
      seen.push(...body.items.map((f) => f.id))
      cursor = body.nextCursor
    } while (cursor !== null)
    t.same(seen, [...ids].reverse())
    const avatars = await ta.app.inject({ url: '/api/v1/files?ownerId=me&purpose=avatar', headers: carol.headers })
    t.same(avatars.json().items.map((f: { id: string }) => f.id), [ids[3], ids[1]])
    t.equal((await ta.app.inject({ url: `/api/v1/files?ownerId=${carol.id}`, headers: bob.headers })).statusCode, 403)
    t.equal((await ta.app.inject({
      url: `/api/v1/files?ownerId=${carol.id}`,
      headers: admin.headers
    })).json().items.length, 5)
    t.equal((await ta.app.inject({ url: '/api/v1/files?cursor=nonsense', headers: carol.headers })).statusCode, 400)
    t.equal((await ta.app.inject({ url: '/api/v1/files' })).statusCode, 401)
  })

  t.test('delete: owner or admin; the row, the object and its thumbnails go', async (t) => {
    const file = (await upload(ta, alice, await makeImage({ seed: 300 }))).json()
    await ta.app.inject({ url: `/api/v1/files/${file.id}/thumbnail?w=64` })
    const prefix = (await ta.deps.prisma.file.findUniqueOrThrow({ where: { id: file.id } })).storageKey
      .replace(/original$/, '')
    const objectsOf = async (): Promise<string[]> => (await leftovers(ta)).objects.filter((k) => k.startsWith(prefix))
    t.equal((await objectsOf()).length, 2)
    const usedBefore = (await ta.app.inject({ url: '/api/v1/files/usage', headers: alice.headers })).json().used
    t.equal((await ta.app.inject({
      method: 'DELETE',
      url: `/api/v1/files/${file.id}`,
      headers: bob.headers
    })).statusCode, 403)
    const del = await ta.app.inject({ method: 'DELETE', url: `/api/v1/files/${file.id}`, headers: alice.headers })
    t.equal(del.statusCode, 204)
    t.same(await objectsOf(), [])
    t.equal((await ta.app.inject({ url: `/api/v1/files/${file.id}` })).statusCode, 404)
    t.equal((await ta.app.inject({
      method: 'DELETE',
      url: `/api/v1/files/${file.id}`,
      headers: alice.headers
    })).statusCode, 404)
    const usedAfter = (await ta.app.inject({ url: '/api/v1/files/usage', headers: alice.headers })).json().used
    t.equal(usedAfter, usedBefore - file.size, 'quota given back')
    const other = (await upload(ta, bob, await makeImage({ seed: 301 }))).json()
    t.equal((await ta.app.inject({
      method: 'DELETE',
      url: `/api/v1/files/${other.id}`,
      headers: admin.headers
    })).statusCode, 204, 'admins may')
  })

  t.test('unknown ids and malformed ids', async (t) => {
    t.equal((await ta.app.inject({ url: '/api/v1/files/0190a4c1-0000-7000-8000-000000000000' })).statusCode, 404)
    t.equal((await ta.app.inject({ url: '/api/v1/files/not-a-uuid/content' })).statusCode, 400)
  })
})
