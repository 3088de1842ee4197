// The file service's error catalogue. The kit's `commonErrors` (NOT_OWNER, INVALID_CURSOR, …) and
// `invalidField` (VALIDATION_FAILED) hold the codes every service shares.
import { defineErrors, type ErrorCode } from '@holo/shared'

const MiB = 1024 * 1024
const inMiB = (bytes: number): string => `${Math.round((bytes / MiB) * 100) / 100} MiB`

export const errors = defineErrors({
  FILE_NOT_FOUND: () => ({ status: 404, detail: 'No such file' }),
  FILE_MISSING: () => ({ status: 400, detail: 'The multipart body must have one part named "file"' }),
  INVALID_FIELD: (detail: string) => ({ status: 400, detail }),
  MALFORMED_MULTIPART: (why: string) => ({ status: 400, detail: `The multipart/form-data body is malformed: ${why}` }),
  UNSUPPORTED_MEDIA_TYPE: () => ({
    status: 415,
    detail: 'The body must be multipart/form-data with a part named "file"'
  }),
  FILE_TOO_LARGE: (limit: number) => ({ status: 413, detail: `The file is larger than the limit of ${inMiB(limit)}` }),
  QUOTA_EXCEEDED: (used: number, quota: number, size: number) => ({
    status: 413,
    detail: `This upload (${inMiB(size)}) would exceed your storage quota: ${inMiB(used)} of ${inMiB(quota)} used`
  }),
  FILE_TYPE_UNSUPPORTED: () => ({
    status: 415,
    detail: 'Only PNG, JPEG, WebP, GIF and AVIF images are accepted; the type is decided by the file\'s content'
  }),
  IMAGE_UNDECODABLE: () => ({ status: 415, detail: 'The file does not decode as the image its content claims to be' }),
  IMAGE_DIMENSIONS_TOO_LARGE: (detail: string) => ({ status: 422, detail }),
  SIGNATURE_INVALID: () => ({ status: 403, detail: 'The signature of this URL is invalid or has expired' }),
  RANGE_NOT_SATISFIABLE: (size: number) => ({
    status: 416,
    detail: 'The requested range is outside the file',
    headers: { 'content-range': `bytes */${size}` }
  })
})

export type FileErrorCode = ErrorCode<typeof errors>
