import { randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { once } from 'node:events'
import path from 'node:path'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createHash } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { AppError, badRequest, forbidden, hasRole, type AuthUser } from '@holo/shared'
import {
  badField, fileMissing, fileNotFound, fileTooLarge, malformedMultipart, notOwner, quotaExceeded, rangeNotSatisfiable,
  signatureInvalid, unsupportedType
} from '../../errors.js'
import type { ObjectStore } from '../../storage/object-store.js'
import type { FileRecord, FilesRepository } from './files.repository.js'
import { PURPOSES, VISIBILITIES, type FileView } from './files.schemas.js'
import { contentDisposition, sanitizeFilename } from './filename.js'
import { parseRange } from './http-range.js'
import { THUMBNAIL_WIDTHS, makeThumbnail, processImage, sniffImageType, type ThumbnailWidth } from './image.js'
import type { UrlSigner } from './signing.js'

export type UploadPart =
  | { type: 'file', fieldname: string, filename?: string, file: Readable }
  | { type: 'field', fieldname: string, value: unknown }

export interface FilesSettings {
  maxBytes: number
  quotaBytes: number
  tempDir: string
  publicBaseUrl: string
  signedUrlMaxSeconds: number
}

export interface FilesMetrics {
  upload: (outcome: 'created' | 'duplicate' | 'rejected', storedBytes: number) => void
}

export interface Signature { expires?: number, sig?: string }

/** What a content or thumbnail route sends: status, headers and maybe a body. */
export interface Delivery { status: 200 | 206 | 304, headers: Record<string, string>, body?: Readable | Buffer }

const UPLOAD_PREFIX = 'upload-'
export const TEMP_FILE_PREFIX = UPLOAD_PREFIX
export const ORIGINAL_SUFFIX = '/original'
export const thumbnailKey = (storageKey: string, w: number): string =>
  `${storageKey.slice(0, -ORIGINAL_SUFFIX.length)}/thumbnail-${w}.webp`
export const allKeysOf = (storageKey: string): string[] => [storageKey, ...THUMBNAIL_WIDTHS.map((w) => thumbnailKey(storageKey, w))]

const variantOf = (w?: number): string => w === undefined ? 'original' : `thumbnail-${w}`

interface Cursor { t: string, i: string }
const encodeCursor = (f: FileRecord): string => Buffer.from(JSON.stringify({ t: f.createdAt.toISOString(), i: f.id })).toString('base64url')
function decodeCursor (cursor: string): { createdAt: Date, id: string } {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Cursor
    const createdAt = new Date(c.t)
    if (typeof c.i !== 'string' || Number.isNaN(createdAt.getTime())) throw new Error('bad cursor')
    return { createdAt, id: c.i }
  } catch {
    throw badRequest('The cursor is invalid', 'INVALID_CURSOR')
  }
}

/**
 * What the multipart parser (busboy) raised while reading the body: a truncated body, a missing boundary, a
 * part cut short. The plugin's own errors (FST_*: limits, file too large) and ours keep their meaning.
 */
function parserError (err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code
  if (err instanceof AppError || (typeof code === 'string' && code.startsWith('FST_'))) {
    // A field declared application/json that is not JSON (the plugin says 406), or named like a prototype member.
    const badJson = code === 'FST_INVALID_JSON_FIELD_ERROR' || code === 'FST_PROTO_VIOLATION'
    if (badJson) return badField((err as Error).message)
    return err
  }
  return malformedMultipart('it is truncated or its boundaries or part headers are broken')
}

/** The parts; what the parser throws between them becomes a 400 (errors of the consumer never pass through here). */
async function * readParts (parts: AsyncIterable<UploadPart>): AsyncGenerator<UploadPart> {
  try {
    for await (const part of parts) yield part
  } catch (err) {
    throw parserError(err)
  }
}

function oneOf<T extends string> (value: unknown, allowed: readonly T[], field: string, fallback: T): T {
  if (value === undefined) return fallback
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T
  throw badField(`${field} must be one of: ${allowed.join(', ')}`)
}

/** The rules of the file service; knows no HTTP framework. */
export class FilesService {
  private readonly thumbnailsInFlight = new Map<string, Promise<Buffer>>()

  constructor (
    private readonly repo: FilesRepository,
    private readonly store: ObjectStore,
    private readonly signer: UrlSigner,
    private readonly settings: FilesSettings,
    private readonly metrics: FilesMetrics,
    private readonly log: FastifyBaseLogger
  ) {}

  private canRead (user: AuthUser | null, f: FileRecord): boolean {
    return f.visibility === 'public' || (user !== null && (user.id === f.ownerId || hasRole(user)))
  }

  private async readable (user: AuthUser | null, id: string): Promise<FileRecord> {
    const f = await this.repo.findById(id)
    // Private files of others look exactly like missing ones.
    if (f === undefined || !this.canRead(user, f)) throw fileNotFound()
    return f
  }

  private async owned (user: AuthUser, id: string): Promise<FileRecord> {
    const f = await this.readable(user, id)
    if (f.ownerId !== user.id && !hasRole(user)) throw notOwner()
    return f
  }

  view (f: FileRecord): FileView {
    const base = `${this.settings.publicBaseUrl}/api/v1/files/${f.id}`
    return {
      id: f.id,
      ownerId: f.ownerId,
      purpose: f.purpose as FileView['purpose'],
      visibility: f.visibility as FileView['visibility'],
      filename: f.filename,
      contentType: f.contentType,
      size: f.size,
      sha256: f.sha256,
      width: f.width,
      height: f.height,
      createdAt: f.createdAt.toISOString(),
      url: `${base}/content`,
      thumbnailUrl: `${base}/thumbnail?w=256`
    }
  }

  quotaOf (user: AuthUser): number | null {
    return hasRole(user) ? null : this.settings.quotaBytes
  }

  async upload (user: AuthUser, parts: AsyncIterable<UploadPart>): Promise<{ file: FileView, created: boolean }> {
    await mkdir(this.settings.tempDir, { recursive: true })
    const spooled = path.join(this.settings.tempDir, `${UPLOAD_PREFIX}${randomUUID()}`)
    const input = `${spooled}.in`
    const output = `${spooled}.out`
    try {
      const result = await this.receiveAndStore(user, parts, input, output)
      this.metrics.upload(result.created ? 'created' : 'duplicate', result.created ? result.file.size : 0)
      return result
    } catch (err) {
      this.metrics.upload('rejected', 0)
      throw err
    } finally {
      await Promise.all([rm(input, { force: true }), rm(output, { force: true })])
    }
  }

  private async receiveAndStore (user: AuthUser, parts: AsyncIterable<UploadPart>, input: string, output: string): Promise<{ file: FileView, created: boolean }> {
    const fields: Record<string, unknown> = {}
    let received: { size: number, sha256: string, filename: string } | undefined
    let sawPart = false
    try {
      for await (const part of readParts(parts)) {
        sawPart = true
        if (part.type === 'field') {
          fields[part.fieldname] = part.value
          continue
        }
        if (part.fieldname !== 'file' || received !== undefined) {
          part.file.resume()
          throw badField('The body must have exactly one file part, named "file"')
        }
        // Fields sent before the file are checked before its bytes are read.
        oneOf(fields.purpose, PURPOSES, 'purpose', 'artwork')
        oneOf(fields.visibility, VISIBILITIES, 'visibility', 'public')
        received = { ...await this.spool(part.file, input), filename: sanitizeFilename(part.filename) }
      }
    } catch (err) {
      // The multipart parser stops a file at the limit and throws on the next part.
      if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw fileTooLarge(this.settings.maxBytes)
      throw err
    }
    // An empty body, or parts busboy skipped (no Content-Disposition): nothing a client meant to send.
    if (!sawPart) throw malformedMultipart('it holds no form-data part (is it empty, or are the part headers missing?)')
    if (received === undefined) throw fileMissing()
    const purpose = oneOf(fields.purpose, PURPOSES, 'purpose', 'artwork')
    const visibility = oneOf(fields.visibility, VISIBILITIES, 'visibility', 'public')
    if (received.size === 0) throw unsupportedType()

    const existing = await this.repo.findByOwnerAndHash(user.id, received.sha256)
    if (existing !== undefined) return { file: this.view(existing), created: false }

    const image = await processImage(input, output, await sniffImageType(input))
    const quota = this.quotaOf(user)
    if (quota !== null) {
      // A cheap early refusal; the transaction below is what guarantees the quota.
      const used = await this.repo.usedBy(user.id)
      if (used + image.size > quota) throw quotaExceeded(used, quota, image.size)
    }
    const storageKey = `files/${randomUUID()}${ORIGINAL_SUFFIX}`
    await this.store.putFile(storageKey, output, { size: image.size, sha256: image.sha256, contentType: image.contentType })
    let result: Awaited<ReturnType<FilesRepository['commit']>>
    try {
      result = await this.repo.commit({
        ownerId: user.id,
        purpose,
        visibility,
        filename: received.filename,
        contentType: image.contentType,
        size: image.size,
        sha256: received.sha256,
        width: image.width,
        height: image.height,
        storageKey
      }, quota)
    } catch (err) {
      await this.removeQuietly([storageKey])
      throw err
    }
    if (result.kind === 'created') return { file: this.view(result.file), created: true }
    await this.removeQuietly([storageKey])
    if (result.kind === 'duplicate') return { file: this.view(result.file), created: false }
    throw quotaExceeded(result.used, quota ?? 0, image.size)
  }

  /** Streams one part to a temp file, hashing and counting as it goes. */
  private async spool (file: Readable, target: string): Promise<{ size: number, sha256: string }> {
    const hash = createHash('sha256')
    let size = 0
    const limit = this.settings.maxBytes
    const meter = new Transform({
      transform (chunk: Buffer, _enc, done) {
        size += chunk.length
        if (size > limit) { done(fileTooLarge(limit)); return }
        hash.update(chunk)
        done(null, chunk)
      }
    })
    // The part's own stream fails when the body is cut short: a client error, unlike a failing disk.
    // It may have failed before we got it (the parser runs ahead), hence `errored` too.
    let sourceError: unknown
    file.once('error', (err) => { sourceError = err })
    const out = createWriteStream(target, { flags: 'wx', mode: 0o600 })
    try {
      await pipeline(file, meter, out)
    } catch (err) {
      // The temp file may still be opening: wait for its close, or it could appear after the caller removed it.
      if (!out.closed) await once(out, 'close').catch(() => {})
      throw err === sourceError || err === file.errored ? parserError(err) : err
    }
    return { size, sha256: hash.digest('hex') }
  }

  private async removeQuietly (keys: string[]): Promise<void> {
    // Left-overs are found by the orphan cleaner.
    await this.store.remove(keys).catch((err: unknown) => this.log.warn({ err, keys }, 'could not remove objects; the orphan cleaner will'))
  }

  async get (user: AuthUser | null, id: string): Promise<FileView> {
    return this.view(await this.readable(user, id))
  }

  /** Opens a file for a content or thumbnail request, by token or by signed URL. */
  private async openFor (user: AuthUser | null, id: string, signature: Signature, w?: number): Promise<{ file: FileRecord, cacheControl: string }> {
    if (signature.sig !== undefined || signature.expires !== undefined) {
      const now = Math.floor(Date.now() / 1000)
      if (signature.sig === undefined || signature.expires === undefined || !this.signer.verify(id, variantOf(w), signature.expires, signature.sig, now)) {
        throw signatureInvalid()
      }
      const file = await this.repo.findById(id)
      if (file === undefined) throw fileNotFound()
      return { file, cacheControl: `private, max-age=${Math.min(signature.expires - now, 3600)}` }
    }
    const file = await this.readable(user, id)
    return { file, cacheControl: file.visibility === 'public' ? 'public, max-age=3600' : 'private, no-cache' }
  }

  private headers (file: FileRecord, etag: string, cacheControl: string, contentType: string, filename: string, download = false): Record<string, string> {
    return {
      'content-type': contentType,
      etag,
      'cache-control': cacheControl,
      'content-disposition': contentDisposition(filename, download ? 'attachment' : 'inline'),
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; sandbox",
      'last-modified': file.createdAt.toUTCString()
    }
  }

  async content (user: AuthUser | null, id: string, signature: Signature, request: { range?: string, ifNoneMatch?: string, download?: boolean }): Promise<Delivery> {
    const { file, cacheControl } = await this.openFor(user, id, signature)
    const etag = `"${file.id}"`
    const headers = { ...this.headers(file, etag, cacheControl, file.contentType, file.filename, request.download), 'accept-ranges': 'bytes' }
    if (matches(request.ifNoneMatch, etag)) return { status: 304, headers }
    const range = parseRange(request.range, file.size)
    if (range === 'unsatisfiable') throw rangeNotSatisfiable(file.size)
    const body = await this.store.get(file.storageKey, range)
    if (body === undefined) {
      this.log.error({ fileId: file.id, storageKey: file.storageKey }, 'file row without object')
      throw fileNotFound()
    }
    if (range === undefined) return { status: 200, headers: { ...headers, 'content-length': String(file.size) }, body }
    return {
      status: 206,
      headers: { ...headers, 'content-length': String(range.end - range.start + 1), 'content-range': `bytes ${range.start}-${range.end}/${file.size}` },
      body
    }
  }

  async thumbnail (user: AuthUser | null, id: string, w: ThumbnailWidth, signature: Signature, request: { ifNoneMatch?: string }): Promise<Delivery> {
    const { file, cacheControl } = await this.openFor(user, id, signature, w)
    const etag = `"${file.id}-w${w}"`
    const name = `${file.filename.replace(/\.[^.]*$/, '')}-${w}.webp`
    const headers = this.headers(file, etag, cacheControl, 'image/webp', name)
    if (matches(request.ifNoneMatch, etag)) return { status: 304, headers }
    const key = thumbnailKey(file.storageKey, w)
    const stored = await this.store.stat(key)
    if (stored !== undefined) {
      const body = await this.store.get(key)
      if (body !== undefined) return { status: 200, headers: { ...headers, 'content-length': String(stored.size) }, body }
    }
    const body = await this.generateThumbnail(file, key, w)
    return { status: 200, headers: { ...headers, 'content-length': String(body.length) }, body }
  }

  /** Made once: concurrent requests for the same thumbnail share one job. */
  private async generateThumbnail (file: FileRecord, key: string, w: ThumbnailWidth): Promise<Buffer> {
    let job = this.thumbnailsInFlight.get(key)
    if (job === undefined) {
      job = (async () => {
        const source = await this.store.get(file.storageKey)
        if (source === undefined) throw fileNotFound()
        const thumb = await makeThumbnail(source, w)
        await this.store.putBuffer(key, thumb, 'image/webp')
        return thumb
      })().finally(() => this.thumbnailsInFlight.delete(key))
      this.thumbnailsInFlight.set(key, job)
    }
    return await job
  }

  /** May `user` reference the file from their own records (a card's artwork, an avatar)? The signed-URL rule. */
  async checkOwnership (user: AuthUser, id: string): Promise<void> {
    await this.owned(user, id)
  }

  async signedUrl (user: AuthUser, id: string, expiresIn: number, w?: ThumbnailWidth): Promise<{ url: string, expiresAt: string }> {
    if (expiresIn > this.settings.signedUrlMaxSeconds) {
      throw badRequest(`expiresIn must be at most ${this.settings.signedUrlMaxSeconds} seconds`, 'VALIDATION_FAILED')
    }
    const file = await this.owned(user, id)
    const expires = Math.floor(Date.now() / 1000) + expiresIn
    const sig = this.signer.sign(file.id, variantOf(w), expires)
    const base = `${this.settings.publicBaseUrl}/api/v1/files/${file.id}`
    const url = w === undefined ? `${base}/content?expires=${expires}&sig=${sig}` : `${base}/thumbnail?w=${w}&expires=${expires}&sig=${sig}`
    return { url, expiresAt: new Date(expires * 1000).toISOString() }
  }

  async delete (user: AuthUser, id: string): Promise<void> {
    const file = await this.owned(user, id)
    const deleted = await this.repo.delete(file.id)
    if (deleted === undefined) throw fileNotFound()
    await this.removeQuietly(allKeysOf(deleted.storageKey))
  }

  async list (user: AuthUser, q: { ownerId: string, purpose?: string, cursor?: string, limit: number }): Promise<{ items: FileView[], nextCursor: string | null }> {
    const ownerId = q.ownerId === 'me' ? user.id : q.ownerId
    if (ownerId !== user.id && !hasRole(user)) throw forbidden('Only admins may list the files of another user', 'NOT_FILE_OWNER')
    const after = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined
    const rows = await this.repo.list({ ownerId, purpose: q.purpose, after, limit: q.limit + 1 })
    const page = rows.slice(0, q.limit)
    const last = page.at(-1)
    return { items: page.map((f) => this.view(f)), nextCursor: rows.length > q.limit && last !== undefined ? encodeCursor(last) : null }
  }

  async usage (user: AuthUser): Promise<{ used: number, quota: number | null }> {
    return { used: await this.repo.usedBy(user.id), quota: this.quotaOf(user) }
  }
}

function matches (ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  return ifNoneMatch.split(',').some((t) => { const v = t.trim().replace(/^W\//, ''); return v === etag || v === '*' })
}
