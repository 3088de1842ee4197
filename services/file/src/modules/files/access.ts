import { can, commonErrors, type AuthUser } from '@holo/shared'
import { errors } from '../../errors.js'
import type { FileRecord, FilesRepository } from './files.repository.js'

const canRead = (viewer: AuthUser | null, f: FileRecord): boolean =>
  f.visibility === 'public' || (viewer !== null && (viewer.id === f.ownerId || can(viewer, 'files.read_any')))

/** Who may see a file and who may manage it: the rules every read, signed URL, ownership check and delete share. */
export class FileAccess {
  constructor (private readonly repo: FilesRepository) {}

  /** The file, when `viewer` may read it; 404 otherwise: private files of others look exactly like missing ones. */
  async readable (viewer: AuthUser | null, id: string): Promise<FileRecord> {
    const f = await this.repo.findById(id)
    if (f === null || !canRead(viewer, f)) throw errors.FILE_NOT_FOUND()
    return f
  }

  /** The file, when `caller` owns it or may manage any file; 403 NOT_OWNER for a file they only see. */
  async owned (caller: AuthUser, id: string): Promise<FileRecord> {
    const f = await this.readable(caller, id)
    if (f.ownerId !== caller.id && !can(caller, 'files.manage_any')) throw commonErrors.NOT_OWNER('file')
    return f
  }
}
