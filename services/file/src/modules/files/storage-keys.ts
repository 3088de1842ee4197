// Object keys are the server's own, never derived from what the client sent:
// files/<uuid>/original and files/<uuid>/thumbnail-<w>.webp.
import { randomUUID } from 'node:crypto'
import { THUMBNAIL_WIDTHS } from './image.js'

export const ORIGINAL_SUFFIX = '/original'

/** The key of a new file's original. */
export const newStorageKey = (): string => `files/${randomUUID()}${ORIGINAL_SUFFIX}`

export const thumbnailKey = (storageKey: string, w: number): string =>
  `${storageKey.slice(0, -ORIGINAL_SUFFIX.length)}/thumbnail-${w}.webp`

/** The original and every thumbnail that may exist of it. */
export const allKeysOf = (storageKey: string): string[] =>
  [storageKey, ...THUMBNAIL_WIDTHS.map((w) => thumbnailKey(storageKey, w))]
