// A new social account's picture becomes its avatar: fetched server-side (oauth.picture.ts, the SSRF rules),
// uploaded to the file service on the user's behalf exactly as a client would (multipart POST /api/v1/files
// with a short-lived access token signed for that user), then set as the avatar unless the user chose one
// meanwhile. It runs after the account is committed and never fails a sign-in: every failure is logged and
// counted, without the URL's path or query, nor any token.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Role } from '@holo/shared'
import type { SigningKeys } from '../../keys.js'
import type { AuthMetrics, AvatarImportResult } from '../../metrics.js'
import { profileUpdated } from '../accounts/accounts.events.js'
import type { AccountsRepository, UserRow } from '../accounts/accounts.repository.js'
import { PICTURE_TYPES, PictureError, type PictureFetcher } from './oauth.picture.js'

export interface AvatarImportOptions {
  /** The file service's base URL (FILE_SERVICE_URL). */
  fileServiceUrl: string
  /** Bounds the upload to the file service. */
  timeoutMs: number
}

/** The upload's token lives this long: enough for one bounded upload, useless soon after. */
const UPLOAD_TOKEN_TTL_SECONDS = 60

class UploadError extends Error {
  constructor (readonly reason: AvatarImportResult, message: string) { super(message) }
}

/** Where a picture URL points, for logs: its origin only (paths and queries may carry signatures). */
const originOf = (raw: string): string => {
  try { return new URL(raw).origin } catch { return 'invalid' }
}

export class AvatarImporter {
  constructor (
    private readonly fetcher: PictureFetcher,
    private readonly repo: AccountsRepository,
    private readonly keys: SigningKeys,
    private readonly metrics: AuthMetrics,
    private readonly o: AvatarImportOptions
  ) {}

  /** Imports `pictureUrl` as the avatar of `user`; never throws. Returns what happened. */
  async run (
    user: Pick<UserRow, 'id' | 'roles'>,
    pictureUrl: string,
    ctx: { requestId: string | null, log: FastifyBaseLogger }
  ): Promise<AvatarImportResult> {
    const where = { userId: user.id, pictureOrigin: originOf(pictureUrl) }
    let result: AvatarImportResult
    try {
      const picture = await this.fetcher.fetch(pictureUrl)
      const fileId = await this.upload(user, picture.bytes, picture.contentType, ctx.requestId)
      const set = await this.repo.setAvatarIfUnset(user.id, fileId, profileUpdated)
      result = set === null ? 'kept' : 'imported'
      ctx.log.info({ ...where, fileId, bytes: picture.bytes.length, result },
        set === null ? 'provider picture not used: the account has an avatar already' : 'provider picture imported as avatar')
    } catch (err) {
      result = err instanceof PictureError || err instanceof UploadError ? err.reason : 'failed'
      const message = err instanceof PictureError || err instanceof UploadError ? err.message : 'unexpected error'
      const log = { ...where, result, reason: message }
      if (result === 'failed' && !(err instanceof PictureError) && !(err instanceof UploadError)) {
        ctx.log.error({ ...log, err }, 'provider picture not imported')
      } else {
        ctx.log.warn(log, 'provider picture not imported')
      }
    }
    this.metrics.avatarImport(result)
    return result
  }

  /** Uploads the bytes as the user, as a client would; returns the file's id. */
  private async upload (
    user: Pick<UserRow, 'id' | 'roles'>,
    bytes: Buffer,
    contentType: string,
    requestId: string | null
  ): Promise<string> {
    // A token of no session (none exists yet at the callback): it only has to outlive this one request.
    const { token } = this.keys.sign({ sub: user.id, sid: randomUUID(), roles: user.roles as Role[] },
      Date.now(), UPLOAD_TOKEN_TTL_SECONDS)
    const form = new FormData()
    form.set('purpose', 'avatar')
    form.set('visibility', 'public')
    form.set('file', new Blob([new Uint8Array(bytes)], { type: contentType }), `avatar.${PICTURE_TYPES.get(contentType) ?? 'img'}`)
    const base = this.o.fileServiceUrl.endsWith('/') ? this.o.fileServiceUrl : `${this.o.fileServiceUrl}/`
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' }
    if (requestId !== null) headers['x-request-id'] = requestId
    let res: Response
    try {
      res = await fetch(new URL('api/v1/files', base), {
        method: 'POST',
        body: form,
        headers,
        redirect: 'error',
        signal: AbortSignal.timeout(this.o.timeoutMs)
      })
    } catch (err) {
      const timeout = (err as Error).name === 'TimeoutError'
      throw new UploadError(timeout ? 'timeout' : 'failed', `the file service did not answer${timeout ? ' in time' : ''}`)
    }
    const body = await res.json().catch(() => null) as { id?: unknown, code?: unknown } | null
    if ((res.status === 201 || res.status === 200) && typeof body?.id === 'string') return body.id
    const code = typeof body?.code === 'string' ? body.code : 'no code'
    // The file service sniffs the bytes: a picture that only claimed to be an image is refused there.
    const reason: AvatarImportResult = res.status === 415 || res.status === 422
      ? 'not_image'
      : res.status === 413 ? 'too_large' : 'failed'
    throw new UploadError(reason, `the file service answered ${res.status} (${code})`)
  }
}
