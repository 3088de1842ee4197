import t, { type Test } from 'tap'
import sharp from 'sharp'
import {
  PNG_SIGNATURE,
  bombPng,
  buildTestApp,
  leftovers,
  makeImage,
  multipart,
  upload,
  type TestApp
} from './helper.js'

const nothingLeft = async (t: Test, ta: TestApp, before = 0): Promise<void> => {
  const left = await leftovers(ta)
  t.equal(left.rows, before, 'no new row')
  t.equal(left.objects.length, before, 'no new object')
  t.same(left.temp, [], 'no temp file')
}

t.test('uploads', async (t) => {
  const ta = await buildTestApp(t, { FILE_MAX_BYTES: String(256 * 1024) })

  t.test('a PNG is stored, described and served back', async (t) => {
    const alice = ta.user()
    const png = await makeImage({ width: 64, height: 48, seed: 11 })
    const res = await upload(ta, alice, png, { fields: { purpose: 'avatar' } })
    t.equal(res.statusCode, 201, res.body)
    const body = res.json()
    t.match(body, {
      ownerId: alice.id,
      purpose: 'avatar',
      visibility: 'public',
      contentType: 'image/png',
      width: 64,
      height: 48,
      filename: 'art.png'
    })
    t.match(body.sha256, /^[0-9a-f]{64}$/)
    t.equal(body.url, `/api/v1/files/${body.id}/content`)
    const meta = await ta.app.inject({ url: `/api/v1/files/${body.id}` })
    t.same(meta.json(), body)
    const content = await ta.app.inject({ url: body.url })
    t.equal(content.statusCode, 200)
    t.equal(content.headers['content-type'], 'image/png')
    t.equal(Number(content.headers['content-length']), body.size)
    t.equal(content.rawPayload.length, body.size)
    const decoded = await sharp(content.rawPayload).metadata()
    t.match(decoded, { format: 'png', width: 64, height: 48 })
  })

  t.test('every accepted format by its bytes, whatever the name and Content-Type say', async (t) => {
    const alice = ta.user()
    const cases = [
      ['jpeg', 'image/jpeg'],
      ['webp', 'image/webp'],
      ['gif', 'image/gif'],
      ['avif', 'image/avif']
    ] as const
    for (const [format, type] of cases) {
      const res = await upload(ta, alice, await makeImage({ format, seed: 3 }), {
        filename: 'picture.txt',
        contentType: 'application/octet-stream'
      })
      t.equal(res.statusCode, 201, `${format}: ${res.body}`)
      t.equal(res.json().contentType, type)
    }
  })

  t.test('EXIF and GPS are stripped and orientation applied', async (t) => {
    const alice = ta.user()
    const jpeg = await sharp({ create: { width: 40, height: 20, channels: 3, background: '#336699' } })
      .withMetadata({ orientation: 6 })
      .withExifMerge({
        IFD0: { Copyright: 'secret-owner' },
        IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1' }
      })
      .jpeg().toBuffer()
    const before = await sharp(jpeg).metadata()
    t.ok(before.exif, 'the upload carries EXIF')
    t.equal(before.orientation, 6)
    const res = await upload(ta, alice, jpeg, { filename: 'photo.jpg', contentType: 'image/jpeg' })
    t.equal(res.statusCode, 201, res.body)
    const stored = (await ta.app.inject({ url: res.json().url })).rawPayload
    const after = await sharp(stored).metadata()
    t.equal(after.exif, undefined, 'no EXIF stored')
    t.notOk(stored.includes('secret-owner'))
    t.match(after, { width: 20, height: 40 }, 'rotated by its orientation')
    t.match(res.json(), { width: 20, height: 40 })
  })

  t.test('an executable named .png with image/png is 415', async (t) => {
    const alice = ta.user()
    const rowsBefore = (await leftovers(ta)).rows
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(4096, 0x90)])
    const mz = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(4096, 0)])
    for (const bytes of [elf, mz, Buffer.from('<html><script>alert(1)</script></html>')]) {
      const res = await upload(ta, alice, bytes, { filename: 'cute.png', contentType: 'image/png' })
      t.equal(res.statusCode, 415)
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      t.equal(res.json().code, 'FILE_TYPE_UNSUPPORTED')
    }
    await nothingLeft(t, ta, rowsBefore)
  })

  t.test('a GIF/JavaScript polyglot does not decode: 415', async (t) => {
    const rowsBefore = (await leftovers(ta)).rows
    const polyglot = Buffer.from('GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;alert(document.domain);//', 'latin1')
    const res = await upload(ta, ta.user(), polyglot, { filename: 'x.gif', contentType: 'image/gif' })
    t.equal(res.statusCode, 415)
    t.equal(res.json().code, 'IMAGE_UNDECODABLE')
    await nothingLeft(t, ta, rowsBefore)
  })

  t.test('a PNG with an HTML/ZIP payload appended is stored as pixels only', async (t) => {
    const payload = Buffer.concat([
      Buffer.from('<html><script>alert("polyglot")</script>'),
      Buffer.from('PK\x03\x04 zipped secrets', 'latin1')
    ])
    const png = Buffer.concat([await makeImage({ seed: 21 }), payload])
    const res = await upload(ta, ta.user(), png)
    t.equal(res.statusCode, 201, res.body)
    const stored = (await ta.app.inject({ url: res.json().url })).rawPayload
    t.notOk(stored.includes('polyglot'), 'the script is gone')
    t.notOk(stored.includes('zipped secrets'), 'the archive is gone')
    t.equal((await sharp(stored).metadata()).format, 'png')
  })

  t.test('a truncated PNG is 415', async (t) => {
    const rowsBefore = (await leftovers(ta)).rows
    const full = await makeImage({ width: 200, height: 200, noise: true })
    const res = await upload(ta, ta.user(), full.subarray(0, Math.floor(full.length / 2)))
    t.equal(res.statusCode, 415)
    t.equal(res.json().code, 'IMAGE_UNDECODABLE')
    await nothingLeft(t, ta, rowsBefore)
  })

  t.test('decompression bombs are 422 before any decoding', async (t) => {
    const rowsBefore = (await leftovers(ta)).rows
    for (const [w, h, why] of [
      [20000, 20000, /20000×20000/],
      [8001, 10, /8001×10/],
      [7000, 7000, /40 megapixels/]
    ] as const) {
      const bomb = bombPng(w, h)
      t.ok(bomb.subarray(0, 8).equals(PNG_SIGNATURE))
      const res = await upload(ta, ta.user(), bomb)
      t.equal(res.statusCode, 422, `${w}×${h}`)
      t.equal(res.json().code, 'IMAGE_DIMENSIONS_TOO_LARGE')
      t.match(res.json().detail, why)
    }
    await nothingLeft(t, ta, rowsBefore)
  })

  t.test('path-traversal filenames are metadata only, sanitised', async (t) => {
    const alice = ta.user()
    const names: Array<[string, string]> = [
      ['../../etc/passwd.png', 'passwd.png'],
      ['..\\..\\windows\\win.ini.png', 'win.ini.png'],
      ['.hidden.png', 'hidden.png'],
      ['/', 'file'],
      ['car\u0007d<1>|?.png', 'card1.png'],
      ['kärtchen 名前.png', 'kärtchen 名前.png']
    ]
    let seed = 100
    for (const [given, kept] of names) {
      const res = await upload(ta, alice, await makeImage({ seed: seed++ }), { filename: given })
      t.equal(res.statusCode, 201, res.body)
      t.equal(res.json().filename, kept)
      const content = await ta.app.inject({ url: res.json().url })
      t.match(content.headers['content-disposition'], /^inline; filename="[\x20-\x7e]*"; filename\*=UTF-8''/)
    }
    const { objects } = await leftovers(ta)
    for (const key of objects) t.match(key, /^files\/[0-9a-f-]{36}\/original$/, 'storage keys are the server\'s own')
  })

  t.test('a body over the size limit is 413 and leaves nothing', async (t) => {
    const rowsBefore = (await leftovers(ta)).rows
    const big = await makeImage({ width: 400, height: 400, noise: true })
    t.ok(big.length > 256 * 1024)
    const res = await upload(ta, ta.user(), big)
    t.equal(res.statusCode, 413)
    t.equal(res.json().code, 'FILE_TOO_LARGE')
    t.match(res.json().detail, /0\.25 MiB/)
    await nothingLeft(t, ta, rowsBefore)
  })

  t.test('the same bytes from the same user give the same file', async (t) => {
    const alice = ta.user()
    const bob = ta.user()
    const png = await makeImage({ seed: 77 })
    const first = await upload(ta, alice, png)
    t.equal(first.statusCode, 201)
    const objectsBefore = (await leftovers(ta)).objects.length
    const again = await upload(ta, alice, png, { filename: 'other-name.png' })
    t.equal(again.statusCode, 200)
    t.equal(again.json().id, first.json().id)
    t.equal((await leftovers(ta)).objects.length, objectsBefore, 'not stored twice')
    const usage = await ta.app.inject({ url: '/api/v1/files/usage', headers: alice.headers })
    t.same(usage.json(), { used: first.json().size, quota: 200 * 1024 * 1024 })
    const bobs = await upload(ta, bob, png)
    t.equal(bobs.statusCode, 201, 'another user gets a file of their own')
    t.not(bobs.json().id, first.json().id)
  })

  t.test('bad requests', async (t) => {
    const alice = ta.user()
    const png = await makeImage({ seed: 5 })
    const anonymous = await ta.app.inject({
      method: 'POST',
      url: '/api/v1/files',
      ...multipart([{ name: 'file', filename: 'a.png', data: png }])
    })
    t.equal(anonymous.statusCode, 401)
    const noFile = multipart([{ name: 'purpose', value: 'artwork' }])
    const r1 = await ta.app.inject({
      method: 'POST',
      url: '/api/v1/files',
      headers: { ...alice.headers, ...noFile.headers },
      payload: noFile.payload
    })
    t.equal(r1.statusCode, 400)
    t.equal(r1.json().code, 'FILE_MISSING')
    const r2 = await upload(ta, alice, png, { fields: { purpose: 'wallpaper' } })
    t.equal(r2.statusCode, 400)
    t.match(r2.json().detail, /purpose must be one of: artwork, avatar, template/)
    const r3 = await ta.app.inject({
      method: 'POST',
      url: '/api/v1/files',
      headers: { ...alice.headers, 'content-type': 'application/json' },
      payload: '{"file":"x"}'
    })
    t.equal(r3.statusCode, 415)
    const r4 = await ta.app.inject({
      method: 'POST',
      url: '/api/v1/files',
      headers: { ...alice.headers, 'content-type': 'image/png' },
      payload: png
    })
    t.equal(r4.statusCode, 415)
    const two = multipart([
      { name: 'file', filename: 'a.png', data: png },
      { name: 'file', filename: 'b.png', data: png }
    ])
    const r5 = await ta.app.inject({
      method: 'POST',
      url: '/api/v1/files',
      headers: { ...alice.headers, ...two.headers },
      payload: two.payload
    })
    t.ok([400, 413].includes(r5.statusCode), `two files refused (${r5.statusCode})`)
    const empty = await upload(ta, alice, Buffer.alloc(0))
    t.equal(empty.statusCode, 415)
    t.same((await leftovers(ta)).temp, [])
  })

  t.test('upload metrics are exported', async (t) => {
    const res = await ta.app.inject({ url: '/metrics' })
    t.match(res.body, /file_uploads_total\{outcome="created",service="file"\} \d+/)
    t.match(res.body, /file_uploads_total\{outcome="rejected",service="file"\} \d+/)
    t.match(res.body, /file_bytes_stored_total\{service="file"\} [1-9]/)
    t.match(res.body, /storage_operation_duration_seconds_count\{service="file",operation="put",outcome="ok"\} [1-9]/)
  })
})
