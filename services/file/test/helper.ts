import { randomBytes, randomUUID } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { crc32, deflateSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import sharp from 'sharp'
import type { Role } from '@holo/shared'
import {
  tempDir,
  testDatabase,
  testIssuer,
  testRedisUrl,
  testS3,
  testStreamPrefix,
  type Teardown,
  type TestDatabase,
  type TestIssuer, testRolesKey
} from '@holo/infra/testing'
import { buildApp, type AppOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { closeDeps, createDeps, type Deps } from '../src/deps.js'

export interface TestApp {
  app: FastifyInstance
  deps: Deps
  config: Config
  issuer: TestIssuer
  db: TestDatabase
  s3: { endpoint: string, stop: () => Promise<void> }
  tempDir: string
  /** A new user (or admin) with a token for it. */
  user: (roles?: Role[]) => TestUser
}

export interface TestUser { id: string, token: string, headers: { authorization: string } }

/** The real file app on its own fresh database, its own S3 server and the real Redis. */
export async function buildTestApp (
  t: Teardown,
  env: Record<string, string> = {},
  options: AppOptions = {}
): Promise<TestApp> {
  const [db, s3, issuer, dir] = await Promise.all([
    testDatabase(t),
    testS3(t),
    testIssuer(t),
    tempDir(t, 'holo-file-spool-')
  ])
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: db.urlFor('file'),
    REDIS_URL: testRedisUrl(),
    S3_ENDPOINT: s3.endpoint,
    AUTH_JWKS_URL: issuer.jwksUrl,
    AUTH_ISSUER: issuer.issuer,
    ROLES_REGISTRY_KEY: testRolesKey(),
    FILE_TEMP_DIR: dir,
    EVENTS_STREAM_PREFIX: testStreamPrefix(t),
    ...env
  })
  const deps = await createDeps(config)
  await deps.store.ensureReady()
  const app = await buildApp(config, deps, options)
  t.teardown(async () => { await app.close(); await closeDeps(deps) })
  const user = (roles: Role[] = ['user']): TestUser => {
    const id = randomUUID()
    const token = issuer.token({ sub: id, roles })
    return { id, token, headers: { authorization: `Bearer ${token}` } }
  }
  return { app, deps, config, issuer, db, s3, tempDir: dir, user }
}

export interface Part { name: string, value?: string, filename?: string, contentType?: string, data?: Buffer }

/** A multipart/form-data body, built by hand so tests control every byte. */
export function multipart (parts: Part[]): { payload: Buffer, headers: { 'content-type': string } } {
  const boundary = `----holo${randomUUID().replace(/-/g, '')}`
  const chunks: Buffer[] = []
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`
    if (p.filename !== undefined) head += `; filename="${p.filename}"`
    head += '\r\n'
    if (p.contentType !== undefined) head += `Content-Type: ${p.contentType}\r\n`
    chunks.push(Buffer.from(`${head}\r\n`), p.data ?? Buffer.from(p.value ?? ''), Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }
}

/** One image as the `file` part, plus optional fields. */
export function imageForm (
  data: Buffer,
  o: { filename?: string, contentType?: string, fields?: Record<string, string> } = {}
): ReturnType<typeof multipart> {
  const fields = Object.entries(o.fields ?? {}).map(([name, value]) => ({ name, value }))
  return multipart([
    ...fields,
    { name: 'file', filename: o.filename ?? 'art.png', contentType: o.contentType ?? 'image/png', data }
  ])
}

/**
 * A real image made by sharp; `seed` varies the colour so hashes differ, `noise` makes it
 * incompressible (and unique).
 */
export async function makeImage (o: {
  width?: number
  height?: number
  format?: 'png' | 'jpeg' | 'webp' | 'gif' | 'avif'
  seed?: number
  noise?: boolean
} = {}): Promise<Buffer> {
  const width = o.width ?? 64
  const height = o.height ?? 48
  const seed = o.seed ?? 1
  const image = o.noise === true
    ? sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } })
    : sharp({
      create: { width, height, channels: 3, background: { r: seed % 256, g: (seed * 7) % 256, b: (seed * 13) % 256 } }
    })
  return await image.toFormat(o.format ?? 'png').toBuffer()
}

export async function upload (
  ta: TestApp,
  who: TestUser,
  data: Buffer,
  o: Parameters<typeof imageForm>[1] = {}
): Promise<Awaited<ReturnType<FastifyInstance['inject']>>> {
  const form = imageForm(data, o)
  return await ta.app.inject({
    method: 'POST',
    url: '/api/v1/files',
    headers: { ...who.headers, ...form.headers },
    payload: form.payload
  })
}

/** A PNG chunk with its CRC. */
export function pngChunk (type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([len, body, crc])
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** A well-formed PNG header claiming a size, with a few bytes of pixels: a decompression bomb's shape. */
export function bombPng (width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.writeUInt8(8, 8) // bit depth
  ihdr.writeUInt8(2, 9) // RGB
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1024))),
    pngChunk('IEND', Buffer.alloc(0))
  ])
}

/** Rows, objects and spooled temp files: what a rejected upload must not leave behind. */
export async function leftovers (ta: TestApp): Promise<{ rows: number, objects: string[], temp: string[] }> {
  const objects: string[] = []
  for await (const o of ta.deps.store.list('')) objects.push(o.key)
  return { rows: await ta.deps.prisma.file.count(), objects, temp: await readdir(ta.tempDir) }
}
