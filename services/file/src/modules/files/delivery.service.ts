// Reading stored files: the original (whole or a byte range), WebP thumbnails made once on first request, and
// URLs signed for reading without a token. Returns what is sent and how it may be cached; the routes speak HTTP.
import type { Readable } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import { invalidField, type AuthUser, type CacheCounter } from '@holo/shared'
import { errors } from '../../errors.js'
import type { ByteRange, ObjectStore } from '../../storage/object-store.js'
import type { FileAccess } from './access.js'
import type { FileRecord, FilesRepository } from './files.repository.js'
import { fileUrl } from './files.mappers.js'
import { makeThumbnail, type ThumbnailWidth } from './image.js'
import type { UrlSigner } from './signing.js'
import { thumbnailKey } from './storage-keys.js'

export interface DeliverySettings {
  publicBaseUrl: string
  /** FILE_SIGNED_URL_MAX_SECONDS */
  signedUrlMaxSeconds: number
}

/** `expires` and `sig` of a signed URL; both absent for a request that relies on its token (or none). */
export interface Signature { expires?: number, sig?: string }

/** How the reader came to see the file, which decides who may keep copies, and for how long. */
export type Access =
  | { kind: 'public' }
  /** A private file, read by its owner or an admin. */
  | { kind: 'private' }
  | { kind: 'signed', secondsLeft: number }

export interface Bytes { body: Readable | Buffer, size: number }

/** One variant of a file (the original or a thumbnail): what it is, how it was reached, and its bytes on demand. */
export interface Variant<R extends unknown[] = []> {
  file: FileRecord
  access: Access
  contentType: string
  filename: string
  /** Names these bytes for good (stored files never change): the source of their ETag. */
  version: string
  /** Reads the bytes: storage is only touched here, so a client's current copy never needs it. */
  read: (...args: R) => Promise<Bytes>
}

const variantOf = (w?: number): string => w === undefined ? 'original' : `thumbnail-${w}`

export class DeliveryService {
  private readonly thumbnailsInFlight = new Map<string, Promise<Buffer>>()

  constructor (
    private readonly repo: FilesRepository,
    private readonly access: FileAccess,
    private readonly store: ObjectStore,
    private readonly signer: UrlSigner,
    private readonly settings: DeliverySettings,
    private readonly thumbnails: CacheCounter,
    private readonly log: FastifyBaseLogger
  ) {}

  /** The stored image, for `viewer` or by a signed URL; `read(range)` gives all bytes or an inclusive range. */
  async original (viewer: AuthUser | null, id: string, signature: Signature): Promise<Variant<[range?: ByteRange]>> {
    const { file, access } = await this.open(viewer, id, signature, variantOf())
    return {
      file,
      access,
      contentType: file.contentType,
      filename: file.filename,
      version: file.id,
      read: async (range) => ({
        body: await this.object(file, range),
        size: range === undefined ? file.size : range.end - range.start + 1
      })
    }
  }

  /** A WebP thumbnail `w` pixels wide at most, made on its first request, then served from storage. */
  async thumbnail (viewer: AuthUser | null, id: string, w: ThumbnailWidth, signature: Signature): Promise<Variant> {
    const { file, access } = await this.open(viewer, id, signature, variantOf(w))
    return {
      file,
      access,
      contentType: 'image/webp',
      filename: `${file.filename.replace(/\.[^.]*$/, '')}-${w}.webp`,
      version: `${file.id}-w${w}`,
      read: async () => await this.thumbnailBytes(file, w)
    }
  }

  /** A URL that reads the file (or one thumbnail width) without a token until it expires; for its owner. */
  async signedUrl (
    caller: AuthUser,
    id: string,
    expiresIn: number,
    w?: ThumbnailWidth
  ): Promise<{ url: string, expiresAt: string }> {
    const max = this.settings.signedUrlMaxSeconds
    if (expiresIn > max) throw invalidField('expiresIn', 'querystring', `must be at most ${max} seconds`)
    const file = await this.access.owned(caller, id)
    const expires = Math.floor(Date.now() / 1000) + expiresIn
    const sig = this.signer.sign(file.id, variantOf(w), expires)
    const base = fileUrl(this.settings.publicBaseUrl, file.id)
    const url = w === undefined
      ? `${base}/content?expires=${expires}&sig=${sig}`
      : `${base}/thumbnail?w=${w}&expires=${expires}&sig=${sig}`
    return { url, expiresAt: new Date(expires * 1000).toISOString() }
  }

  /** The file by its signature when the request carries one, else by what `viewer` may read. */
  private async open (
    viewer: AuthUser | null,
    id: string,
    signature: Signature,
    variant: string
  ): Promise<{ file: FileRecord, access: Access }> {
    const { sig, expires } = signature
    if (sig === undefined && expires === undefined) {
      const file = await this.access.readable(viewer, id)
      return { file, access: { kind: file.visibility === 'public' ? 'public' : 'private' } }
    }
    const now = Math.floor(Date.now() / 1000)
    if (sig === undefined || expires === undefined || !this.signer.verify(id, variant, expires, sig, now)) {
      throw errors.SIGNATURE_INVALID()
    }
    const file = await this.repo.findById(id)
    if (file === null) throw errors.FILE_NOT_FOUND()
    return { file, access: { kind: 'signed', secondsLeft: expires - now } }
  }

  private async object (file: FileRecord, range?: ByteRange): Promise<Readable> {
    const body = await this.store.get(file.storageKey, range)
    if (body === null) {
      this.log.error({ fileId: file.id, storageKey: file.storageKey }, 'file row without object')
      throw errors.FILE_NOT_FOUND()
    }
    return body
  }

  private async thumbnailBytes (file: FileRecord, w: ThumbnailWidth): Promise<Bytes> {
    const key = thumbnailKey(file.storageKey, w)
    const stored = await this.store.stat(key)
    const body = stored === null ? null : await this.store.get(key)
    if (stored !== null && body !== null) {
      this.thumbnails.hit()
      return { body, size: stored.size }
    }
    this.thumbnails.miss()
    const made = await this.makeThumbnail(file, key, w)
    return { body: made, size: made.length }
  }

  /** Made once: concurrent requests for the same thumbnail share one job. */
  private async makeThumbnail (file: FileRecord, key: string, w: ThumbnailWidth): Promise<Buffer> {
    let job = this.thumbnailsInFlight.get(key)
    if (job === undefined) {
      job = (async () => {
        const source = await this.store.get(file.storageKey)
        if (source === null) throw errors.FILE_NOT_FOUND()
        const thumb = await makeThumbnail(source, w)
        await this.store.putBuffer(key, thumb, 'image/webp')
        return thumb
      })().finally(() => this.thumbnailsInFlight.delete(key))
      this.thumbnailsInFlight.set(key, job)
    }
    return await job
  }
}
