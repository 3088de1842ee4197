// The file service's error catalogue: codes and safe details on top of the shared factories.
import { forbidden, notFound, payloadTooLarge, unprocessable, unsupportedMediaType, AppError } from '@holo/shared'

const MiB = 1024 * 1024
const inMiB = (bytes: number): string => `${Math.round((bytes / MiB) * 100) / 100} MiB`

export const fileNotFound = (): AppError => notFound('No such file', 'FILE_NOT_FOUND')
export const fileTooLarge = (limit: number): AppError =>
  payloadTooLarge(`The file is larger than the limit of ${inMiB(limit)}`, 'FILE_TOO_LARGE')
export const quotaExceeded = (used: number, quota: number, size: number): AppError =>
  payloadTooLarge(`This upload (${inMiB(size)}) would exceed your storage quota: ${inMiB(used)} of ${inMiB(quota)} used`, 'QUOTA_EXCEEDED')
export const unsupportedType = (): AppError =>
  unsupportedMediaType('Only PNG, JPEG, WebP, GIF and AVIF images are accepted; the type is decided by the file\'s content', 'FILE_TYPE_UNSUPPORTED')
export const undecodableImage = (): AppError =>
  unsupportedMediaType('The file does not decode as the image its content claims to be', 'IMAGE_UNDECODABLE')
export const imageTooLarge = (detail: string): AppError => unprocessable(detail, 'IMAGE_DIMENSIONS_TOO_LARGE')
export const fileMissing = (): AppError =>
  new AppError(400, 'FILE_MISSING', 'Bad Request', 'The multipart body must have one part named "file"')
export const badField = (detail: string): AppError => new AppError(400, 'INVALID_FIELD', 'Bad Request', detail)
export const malformedMultipart = (why: string): AppError =>
  new AppError(400, 'MALFORMED_MULTIPART', 'Bad Request', `The multipart/form-data body is malformed: ${why}`)
export const signatureInvalid = (): AppError => forbidden('The signature of this URL is invalid or has expired', 'SIGNATURE_INVALID')
export const rangeNotSatisfiable = (size: number): AppError =>
  new AppError(416, 'RANGE_NOT_SATISFIABLE', 'Range Not Satisfiable', 'The requested range is outside the file', {}, { 'content-range': `bytes */${size}` })
export const notOwner = (): AppError => forbidden('Only the owner of this file may do this', 'NOT_FILE_OWNER')
