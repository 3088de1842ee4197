// Files as records: metadata, a user's listing, the ownership check other services ask, and deletion.
import type { FastifyBaseLogger } from 'fastify'
import { can, commonErrors, decodeTimeCursor, encodeCursor, page, type AuthUser } from '@holo/shared'
import { errors } from '../../errors.js'
import { removeQuietly, type ObjectStore } from '../../storage/object-store.js'
import type { FileAccess } from './access.js'
import type { FileRecord, FilesRepository } from './files.repository.js'
import { fileDeleted } from './files.events.js'
import { toFileView } from './files.mappers.js'
import type { FileView } from './files.schemas.js'
import { allKeysOf } from './storage-keys.js'

/** The cursors of the files listing: (createdAt, id), newest first. */
const CURSOR_KIND = 'files'

export interface ListFiles { ownerId: string, purpose?: string, cursor?: string, limit: number }

export class FilesService {
  constructor (
    private readonly repo: FilesRepository,
    private readonly access: FileAccess,
    private readonly store: ObjectStore,
    private readonly publicBaseUrl: string,
    private readonly log: FastifyBaseLogger
  ) {}

  private view (f: FileRecord): FileView {
    return toFileView(f, this.publicBaseUrl)
  }

  async get (viewer: AuthUser | null, id: string): Promise<FileView> {
    return this.view(await this.access.readable(viewer, id))
  }

  /** The caller's files (`ownerId` "me"), or, for admins, anyone's; newest first. */
  async list (caller: AuthUser, q: ListFiles): Promise<{ items: FileView[], nextCursor: string | null }> {
    const ownerId = q.ownerId === 'me' ? caller.id : q.ownerId
    if (ownerId !== caller.id && !can(caller, 'files.read_any')) throw commonErrors.NOT_OWNER('file list')
    const after = q.cursor === undefined ? undefined : decodeTimeCursor(q.cursor, CURSOR_KIND)
    const rows = await this.repo.list({
      ownerId,
      purpose: q.purpose,
      after: after === undefined ? undefined : { createdAt: new Date(after.createdAt), id: after.id },
      limit: q.limit + 1
    })
    const { items, nextCursor } = page(rows, q.limit, (f) => this.view(f),
      (f) => encodeCursor(CURSOR_KIND, [f.createdAt.toISOString(), f.id]))
    return { items, nextCursor }
  }

  /** May `caller` reference the file from their own records (a card's artwork, an avatar)? The signed-URL rule. */
  async checkOwnership (caller: AuthUser, id: string): Promise<void> {
    await this.access.owned(caller, id)
  }

  /** Removes the row (giving its bytes back to the quota), then the object and its thumbnails. */
  async delete (caller: AuthUser, id: string): Promise<void> {
    const file = await this.access.owned(caller, id)
    const deleted = await this.repo.delete(file.id, (row) => [fileDeleted(row, caller.id)])
    if (deleted === null) throw errors.FILE_NOT_FOUND()
    await removeQuietly(this.store, allKeysOf(deleted.storageKey), this.log)
  }
}
