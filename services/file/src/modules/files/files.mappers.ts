import type { FileRecord } from './files.repository.js'
import type { FileView } from './files.schemas.js'

/** Where a file is served, under `publicBaseUrl` (FILE_PUBLIC_BASE_URL; empty: root-relative). */
export const fileUrl = (publicBaseUrl: string, id: string): string => `${publicBaseUrl}/api/v1/files/${id}`

/** The API object of a file row: the columns it names and nothing else. */
export function toFileView (f: FileRecord, publicBaseUrl: string): FileView {
  const base = fileUrl(publicBaseUrl, f.id)
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
