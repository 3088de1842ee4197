// The upload pipeline: spool the file part to disk (counted, hashed), dedupe, sniff the type, refuse bombs,
// re-encode, check the quota, store the object, then commit the row and the usage in one transaction.
import { createHash, randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { once } from 'node:events'
import path from 'node:path'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { FastifyBaseLogger } from 'fastify'
import { AppError, can, type AuthUser } from '@holo/shared'
import { errors } from '../../errors.js'
import type { UploadOutcome } from '../../metrics.js'
import { removeQuietly, type ObjectStore } from '../../storage/object-store.js'
import type { FileRecord, FilesRepository } from './files.repository.js'
import { fileUploaded } from './files.events.js'
import { toFileView } from './files.mappers.js'
import { PURPOSES, VISIBILITIES, type FileView } from './files.schemas.js'
import { sanitizeFilename } from './filename.js'
import { processImage, sniffImageType, type ProcessedImage } from './image.js'
import { newStorageKey } from './storage-keys.js'

/** Spooled uploads are `<tempDir>/upload-<uuid>.in|.out`; the orphan cleaner looks for this prefix. */
export const TEMP_FILE_PREFIX = 'upload-'

export type UploadPart =
  | { type: 'file', fieldname: string, filename?: string, file: Readable }
  | { type: 'field', fieldname: string, value: unknown }

export interface UploadSettings {
  maxBytes: number
  /** Per user; admins are unlimited. */
  quotaBytes: number
  tempDir: string
  publicBaseUrl: string
}

export interface Uploaded { file: FileView, created: boolean }

interface Received { size: number, sha256: string, filename: string, purpose: string, visibility: string }

/**
 * What the multipart parser (busboy) raised while reading the body: a truncated body, a missing boundary, a
 * part cut short. The plugin's own errors (FST_*: limits, file too large) and ours keep their meaning.
 */
function parserError (err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code
  if (err instanceof AppError || (typeof code === 'string' && code.startsWith('FST_'))) {
    // A field declared application/json that is not JSON (the plugin says 406), or named like a prototype member.
    const badJson = code === 'FST_INVALID_JSON_FIELD_ERROR' || code === 'FST_PROTO_VIOLATION'
    if (badJson) return errors.INVALID_FIELD((err as Error).message)
    return err
  }
  return errors.MALFORMED_MULTIPART('it is truncated or its boundaries or part headers are broken')
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
  throw errors.INVALID_FIELD(`${field} must be one of: ${allowed.join(', ')}`)
}

const purposeOf = (fields: Record<string, unknown>): string => oneOf(fields.purpose, PURPOSES, 'purpose', 'artwork')
const visibilityOf = (fields: Record<string, unknown>): string =>
  oneOf(fields.visibility, VISIBILITIES, 'visibility', 'public')

/** Uploads and the quota they count against; knows no HTTP framework. */
export class UploadsService {
  constructor (
    private readonly repo: FilesRepository,
    private readonly store: ObjectStore,
    private readonly settings: UploadSettings,
    private readonly countUpload: (outcome: UploadOutcome, storedBytes: number) => void,
    private readonly log: FastifyBaseLogger
  ) {}

  /** The bytes `user` may store; null means unlimited. */
  quotaOf (user: AuthUser): number | null {
    return can(user, 'files.unlimited') ? null : this.settings.quotaBytes
  }

  async usage (caller: AuthUser): Promise<{ used: number, quota: number | null }> {
    return { used: await this.repo.usedBy(caller.id), quota: this.quotaOf(caller) }
  }

  /** Stores the one file part of a multipart body; the same bytes uploaded again give the existing file. */
  async upload (caller: AuthUser, parts: AsyncIterable<UploadPart>): Promise<Uploaded> {
    await mkdir(this.settings.tempDir, { recursive: true })
    const spooled = path.join(this.settings.tempDir, `${TEMP_FILE_PREFIX}${randomUUID()}`)
    const input = `${spooled}.in`
    const output = `${spooled}.out`
    try {
      const result = await this.receiveAndStore(caller, parts, input, output)
      this.countUpload(result.created ? 'created' : 'duplicate', result.created ? result.file.size : 0)
      return result
    } catch (err) {
      this.countUpload('rejected', 0)
      throw err
    } finally {
      await Promise.all([rm(input, { force: true }), rm(output, { force: true })])
    }
  }

  private async receiveAndStore (
    caller: AuthUser,
    parts: AsyncIterable<UploadPart>,
    input: string,
    output: string
  ): Promise<Uploaded> {
    const received = await this.receive(parts, input)
    const existing = await this.repo.findByOwnerAndHash(caller.id, received.sha256)
    if (existing !== null) return { file: this.view(existing), created: false }

    const image = await processImage(input, output, await sniffImageType(input))
    const quota = this.quotaOf(caller)
    if (quota !== null) {
      // A cheap early refusal; the transaction in `commit` is what guarantees the quota.
      const used = await this.repo.usedBy(caller.id)
      if (used + image.size > quota) throw errors.QUOTA_EXCEEDED(used, quota, image.size)
    }
    return await this.storeAndCommit(caller, received, image, quota)
  }

  /** Reads the parts: the fields, and the one file part spooled to `input`. */
  private async receive (parts: AsyncIterable<UploadPart>, input: string): Promise<Received> {
    const fields: Record<string, unknown> = {}
    let file: { size: number, sha256: string, filename: string } | undefined
    let sawPart = false
    try {
      for await (const part of readParts(parts)) {
        sawPart = true
        if (part.type === 'field') {
          fields[part.fieldname] = part.value
          continue
        }
        if (part.fieldname !== 'file' || file !== undefined) {
          part.file.resume()
          throw errors.INVALID_FIELD('The body must have exactly one file part, named "file"')
        }
        // Fields sent before the file are checked before its bytes are read.
        purposeOf(fields)
        visibilityOf(fields)
        file = { ...await this.spool(part.file, input), filename: sanitizeFilename(part.filename) }
      }
    } catch (err) {
      // The multipart parser stops a file at the limit and throws on the next part.
      const tooLarge = (err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE'
      throw tooLarge ? errors.FILE_TOO_LARGE(this.settings.maxBytes) : err
    }
    // An empty body, or parts busboy skipped (no Content-Disposition): nothing a client meant to send.
    if (!sawPart) {
      throw errors.MALFORMED_MULTIPART('it holds no form-data part (is it empty, or are the part headers missing?)')
    }
    if (file === undefined) throw errors.FILE_MISSING()
    const received = { ...file, purpose: purposeOf(fields), visibility: visibilityOf(fields) }
    if (received.size === 0) throw errors.FILE_TYPE_UNSUPPORTED()
    return received
  }

  /** Streams one part to a temp file, hashing and counting as it goes. */
  private async spool (file: Readable, target: string): Promise<{ size: number, sha256: string }> {
    const hash = createHash('sha256')
    let size = 0
    const limit = this.settings.maxBytes
    const meter = new Transform({
      transform (chunk: Buffer, _enc, done) {
        size += chunk.length
        if (size > limit) { done(errors.FILE_TOO_LARGE(limit)); return }
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

  /** PUTs the object, then commits row and usage; the object goes again when the commit does not keep it. */
  private async storeAndCommit (
    caller: AuthUser,
    received: Received,
    image: ProcessedImage,
    quota: number | null
  ): Promise<Uploaded> {
    const storageKey = newStorageKey()
    const { size, sha256, contentType } = image
    await this.store.putFile(storageKey, image.path, { size, sha256, contentType })
    let result: Awaited<ReturnType<FilesRepository['commit']>>
    try {
      result = await this.repo.commit({
        ownerId: caller.id,
        purpose: received.purpose,
        visibility: received.visibility,
        filename: received.filename,
        contentType,
        size,
        // The hash of the uploaded bytes: the dedupe key a client can compute itself.
        sha256: received.sha256,
        width: image.width,
        height: image.height,
        storageKey
      }, quota, (file) => [fileUploaded(file)])
    } catch (err) {
      await removeQuietly(this.store, [storageKey], this.log)
      throw err
    }
    if (result.kind === 'created') return { file: this.view(result.file), created: true }
    await removeQuietly(this.store, [storageKey], this.log)
    if (result.kind === 'duplicate') return { file: this.view(result.file), created: false }
    throw errors.QUOTA_EXCEEDED(result.used, quota ?? 0, size)
  }

  private view (f: FileRecord): FileView {
    return toFileView(f, this.settings.publicBaseUrl)
  }
}
