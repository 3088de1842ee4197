import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { request } from 'node:http'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import { crc32 } from 'node:zlib'
import t from 'tap'
import { buildTestApp, makeImage, upload } from './helper.js'

const MiB = 1024 * 1024

// Sampling live memory (after a full GC) rather than garbage not yet collected:
// an upload held in memory would be live for the whole request.
v8.setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/**
 * A valid PNG of `extraMiB` MiB: a small image with a private ancillary chunk
 * ("hoLo", which decoders skip) of that size before its pixels. Yielded in
 * 1 MiB pieces made from one block, so the client holds no more than that.
 */
async function bigPng (extraMiB: number): Promise<{
  chunks: (onMiB?: (i: number) => void) => AsyncGenerator<Buffer>
  size: number
  sha256: string
}> {
  const small = await makeImage({ width: 64, height: 64, seed: 3 })
  const head = small.subarray(0, 33) // signature and IHDR
  const tail = small.subarray(33)
  const block = randomBytes(MiB)
  const type = Buffer.from('hoLo', 'latin1')
  let crc = crc32(type)
  for (let i = 0; i < extraMiB; i++) crc = crc32(block, crc)
  const len = Buffer.alloc(4)
  len.writeUInt32BE(extraMiB * MiB)
  const crcBytes = Buffer.alloc(4)
  crcBytes.writeUInt32BE(crc)
  async function * chunks (onMiB?: (i: number) => void): AsyncGenerator<Buffer> {
    yield Buffer.concat([head, len, type])
    for (let i = 0; i < extraMiB; i++) {
      onMiB?.(i)
      yield block
    }
    yield Buffer.concat([crcBytes, tail])
  }
  const hash = createHash('sha256')
  let size = 0
  for await (const c of chunks()) { hash.update(c); size += c.length }
  return { chunks, size, sha256: hash.digest('hex') }
}

t.test('a 50 MiB upload streams: the process does not grow by anything like 50 MiB', async (t) => {
  const ta = await buildTestApp(t, { FILE_MAX_BYTES: String(64 * MiB) })
  const alice = ta.user()
  const address = await ta.app.listen({ port: 0, host: '127.0.0.1' })
  // Warm up every code path (multipart, sharp, storage, Prisma) first.
  t.equal((await upload(ta, alice, await makeImage({ seed: 1 }))).statusCode, 201)
  const png = await bigPng(50)
  t.ok(png.size > 50 * MiB)

  const boundary = `----holo${randomUUID().replace(/-/g, '')}`
  const pre = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.png"\r\n` +
    'Content-Type: image/png\r\n\r\n')
  const post = Buffer.from(`\r\n--${boundary}--\r\n`)
  async function * body (): AsyncGenerator<Buffer> {
    yield pre
    yield * png.chunks((i) => { if (i % 10 === 5) liveSample() })
    yield post
  }

  gc()
  const base = process.memoryUsage()
  // Live memory (after a full GC), taken as the client has sent 5, 15, 25, 35
  // and 45 MiB: an upload held in memory would be live at those points.
  const live: number[] = []
  const liveSample = (): void => {
    gc()
    const m = process.memoryUsage()
    live.push((m.heapUsed + m.arrayBuffers - base.heapUsed - base.arrayBuffers) / MiB)
  }
  let peakRss = base.rss
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss) }, 5)
  const res = await new Promise<{ status: number, body: string }>((resolve, reject) => {
    const req = request(`${address}/api/v1/files`, {
      method: 'POST',
      headers: {
        ...alice.headers,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(pre.length + png.size + post.length)
      }
    }, (r) => {
      let text = ''
      r.setEncoding('utf8')
        .on('data', (c: string) => { text += c })
        .on('end', () => resolve({ status: r.statusCode ?? 0, body: text }))
    })
    req.on('error', reject)
    pipeline(Readable.from(body()), req).catch(reject)
  })
  clearInterval(sampler)

  t.equal(res.status, 201, res.body)
  const file = JSON.parse(res.body)
  t.equal(file.sha256, png.sha256, 'every byte arrived')
  t.ok(file.size < MiB, 'the private chunk was not stored')
  t.equal(live.length, 5, 'live memory sampled during the upload')
  const rssGrowth = (peakRss - base.rss) / MiB
  t.comment(`live heap + buffers over the baseline: ${live.map((m) => m.toFixed(1)).join(', ')} MiB; ` +
    `peak RSS growth ${rssGrowth.toFixed(1)} MiB`)
  t.ok(Math.max(...live) < 24, 'live JS heap and buffers stay far below 50 MiB')
  t.ok(rssGrowth < 40, 'resident memory grew by far less than 50 MiB')
})
