import t from 'tap'
import { ConfigError } from '@holo/shared'
import { DEV_URL_SIGNING_KEY, loadConfig, signingKeys } from '../src/config.js'
import { contentDisposition, sanitizeFilename } from '../src/modules/files/filename.js'
import { signedUrlQuerySchema } from '../src/modules/files/files.schemas.js'
import { parseRange } from '../src/modules/files/http-range.js'
import { UrlSigner } from '../src/modules/files/signing.js'

const KEY_A = 'a'.repeat(32)
const KEY_B = 'b'.repeat(32)

t.test('config', async (t) => {
  const dev = loadConfig({})
  t.equal(dev.FILE_MAX_BYTES, 10 * 1024 * 1024)
  t.equal(dev.FILE_QUOTA_BYTES, 200 * 1024 * 1024)
  t.same(signingKeys(dev), [DEV_URL_SIGNING_KEY])
  const prod = { NODE_ENV: 'production', S3_SECRET_KEY: 'a-real-secret' }
  t.throws(
    () => loadConfig(prod),
    new ConfigError('config: refusing to start in production: FILE_URL_SIGNING_KEYS contains the development key')
  )
  t.throws(() => loadConfig({ ...prod, FILE_URL_SIGNING_KEYS: `${KEY_A},${DEV_URL_SIGNING_KEY}` }), /development key/)
  t.same(signingKeys(loadConfig({ ...prod, FILE_URL_SIGNING_KEYS: ` ${KEY_A} , ${KEY_B} ` })), [KEY_A, KEY_B])
  t.throws(() => loadConfig({ FILE_URL_SIGNING_KEYS: `${KEY_A},short` }), /at least 32 characters/)
  t.throws(() => loadConfig({ FILE_MAX_BYTES: 'lots' }), /FILE_MAX_BYTES/)
  t.throws(() => loadConfig({ FILE_PUBLIC_BASE_URL: 'https://cdn.example/' }), /FILE_PUBLIC_BASE_URL/)
  t.equal(loadConfig({ FILE_PUBLIC_BASE_URL: 'https://api.holo.cards' }).FILE_PUBLIC_BASE_URL, 'https://api.holo.cards')
})

t.test('the signed-URL query schema states the configured maximum', async (t) => {
  const schema = signedUrlQuerySchema(600)
  t.match(schema.properties.expiresIn, { minimum: 1, maximum: 600, default: 600 })
  t.match(signedUrlQuerySchema(604800).properties.expiresIn, { maximum: 604800, default: 3600 })
})

t.test('URL signatures', async (t) => {
  const now = 1_800_000_000
  const signer = new UrlSigner([KEY_A, KEY_B])
  const sig = signer.sign('file-1', 'original', now + 60)
  t.ok(signer.verify('file-1', 'original', now + 60, sig, now))
  t.notOk(signer.verify('file-1', 'original', now + 60, sig, now + 61), 'expired')
  t.notOk(signer.verify('file-2', 'original', now + 60, sig, now), 'another file')
  t.notOk(signer.verify('file-1', 'thumbnail-64', now + 60, sig, now), 'another variant')
  t.notOk(signer.verify('file-1', 'original', now + 61, sig, now), 'another expiry')
  t.notOk(signer.verify('file-1', 'original', now + 60, '', now), 'empty')
  t.notOk(signer.verify('file-1', 'original', Number.NaN, sig, now), 'not a number')
  t.ok(
    new UrlSigner([KEY_B, KEY_A]).verify('file-1', 'original', now + 60, sig, now),
    'after rotation the old key still verifies'
  )
  t.notOk(new UrlSigner([KEY_B]).verify('file-1', 'original', now + 60, sig, now), 'once dropped it does not')
})

t.test('Range parsing', async (t) => {
  t.same(parseRange('bytes=0-9', 100), { start: 0, end: 9 })
  t.same(parseRange('bytes=90-', 100), { start: 90, end: 99 })
  t.same(parseRange('bytes=-10', 100), { start: 90, end: 99 })
  t.same(parseRange('bytes=-1000', 100), { start: 0, end: 99 })
  t.same(parseRange('bytes=50-1000', 100), { start: 50, end: 99 })
  t.equal(parseRange('bytes=100-', 100), 'unsatisfiable')
  t.equal(parseRange('bytes=9-3', 100), 'unsatisfiable')
  t.equal(parseRange('bytes=-0', 100), 'unsatisfiable')
  t.equal(parseRange(undefined, 100), undefined)
  t.equal(parseRange('bytes=0-1,4-5', 100), undefined, 'several ranges: whole file')
  t.equal(parseRange('items=0-1', 100), undefined)
  t.equal(parseRange('bytes=-', 100), undefined)
})

t.test('filenames', async (t) => {
  t.equal(sanitizeFilename('../../etc/passwd'), 'passwd')
  t.equal(sanitizeFilename('C:\\Users\\me\\card.png'), 'card.png')
  t.equal(sanitizeFilename('...'), 'file')
  t.equal(sanitizeFilename(undefined), 'file')
  t.equal(sanitizeFilename('a\u0000b\r\nc.png'), 'abc.png')
  t.equal([...sanitizeFilename('x'.repeat(500))].length, 200)
  t.equal(
    contentDisposition('kärtchen "1".png'),
    'inline; filename="k_rtchen _1_.png"; filename*=UTF-8\'\'k%C3%A4rtchen%20%221%22.png'
  )
})
