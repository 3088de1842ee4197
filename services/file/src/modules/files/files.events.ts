// What the file service tells the rest of the system (docs/events.md has the catalogue).
import type { HoloEvent } from '@holo/events'
import { event } from '@holo/shared'
import type { FileRecord } from './files.repository.js'

export const fileUploaded = (f: FileRecord): HoloEvent<'holo.file.uploaded.v1'> =>
  event('holo.file.uploaded.v1', {
    subject: f.id,
    actorId: f.ownerId,
    data: { ownerId: f.ownerId, size: f.size, contentType: f.contentType, purpose: f.purpose }
  })

/** `actorId` is the owner or an administrator; none when the orphan cleaner removed the row. */
export const fileDeleted = (f: FileRecord, actorId: string | null): HoloEvent<'holo.file.deleted.v1'> =>
  event('holo.file.deleted.v1', { subject: f.id, actorId, data: { ownerId: f.ownerId, size: f.size } })
