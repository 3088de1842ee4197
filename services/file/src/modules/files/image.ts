// Deciding what an upload is from its bytes, refusing bombs, and re-encoding
// it so that only pixels are stored (no EXIF/GPS, no appended payloads).
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { fileTypeFromFile } from 'file-type'
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp'
import { errors } from '../../errors.js'

export const MAX_DIMENSION = 8000
export const MAX_PIXELS = 40_000_000
/** Animated images: all frames together. */
export const MAX_TOTAL_PIXELS = 200_000_000
export const THUMBNAIL_WIDTHS = [64, 128, 256, 512] as const
export type ThumbnailWidth = typeof THUMBNAIL_WIDTHS[number]

const FORMATS = {
  'image/png': { sharpFormat: 'png', encode: (s: Sharp) => s.png() },
  'image/jpeg': { sharpFormat: 'jpeg', encode: (s: Sharp) => s.jpeg({ quality: 90 }) },
  'image/webp': { sharpFormat: 'webp', encode: (s: Sharp) => s.webp({ quality: 90 }) },
  'image/gif': { sharpFormat: 'gif', encode: (s: Sharp) => s.gif() },
  'image/avif': { sharpFormat: 'heif', encode: (s: Sharp) => s.avif({ quality: 70 }) }
} as const
export type ImageType = keyof typeof FORMATS

const isImageType = (mime: string): mime is ImageType => Object.hasOwn(FORMATS, mime)

/** The type from the magic bytes, never from the name or the client's Content-Type. */
export async function sniffImageType (filePath: string): Promise<ImageType> {
  const found = await fileTypeFromFile(filePath).catch(() => undefined)
  if (found === undefined || !isImageType(found.mime)) throw errors.FILE_TYPE_UNSUPPORTED()
  return found.mime
}

export interface ProcessedImage {
  path: string
  size: number
  sha256: string
  width: number
  height: number
  contentType: ImageType
}

/**
 * Checks the header's dimensions before decoding anything, then decodes the
 * whole image and writes it again in its own format without metadata.
 */
export async function processImage (input: string, output: string, type: ImageType): Promise<ProcessedImage> {
  const format = FORMATS[type]
  let meta: Metadata
  try {
    meta = await sharp(input, { animated: true, limitInputPixels: false }).metadata()
  } catch {
    throw errors.IMAGE_UNDECODABLE()
  }
  // AVIF and HEIC share a container: only the AV1 kind is AVIF.
  const otherFormat = meta.format !== format.sharpFormat || (type === 'image/avif' && meta.compression !== 'av1')
  if (otherFormat) throw errors.IMAGE_UNDECODABLE()
  const pages = meta.pages ?? 1
  const frameHeight = meta.pageHeight ?? meta.height
  const { width } = meta
  if (width > MAX_DIMENSION || frameHeight > MAX_DIMENSION) {
    throw errors.IMAGE_DIMENSIONS_TOO_LARGE(
      `The image is ${width}×${frameHeight} pixels; at most ${MAX_DIMENSION}×${MAX_DIMENSION} is accepted`
    )
  }
  if (width * frameHeight > MAX_PIXELS || width * frameHeight * pages > MAX_TOTAL_PIXELS) {
    throw errors.IMAGE_DIMENSIONS_TOO_LARGE(`The image has more than ${MAX_PIXELS / 1_000_000} megapixels`)
  }
  const animated = pages > 1
  let pipeline = sharp(input, {
    animated,
    limitInputPixels: MAX_TOTAL_PIXELS,
    failOn: 'error',
    sequentialRead: true
  })
  // Orientation lives in EXIF, which is stripped: apply it to the pixels first.
  if (!animated && (meta.orientation ?? 1) > 1) pipeline = pipeline.rotate()
  let info: OutputInfo
  try {
    info = await format.encode(pipeline).toFile(output)
  } catch {
    throw errors.IMAGE_UNDECODABLE()
  }
  const { size, sha256 } = await hashFile(output)
  const height = animated ? frameHeight : info.height
  return { path: output, size, sha256, width: info.width, height, contentType: type }
}

export async function hashFile (filePath: string): Promise<{ size: number, sha256: string }> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(filePath)) hash.update(chunk as Buffer)
  return { size: (await stat(filePath)).size, sha256: hash.digest('hex') }
}

/** A WebP thumbnail `width` pixels wide at most (never enlarged), from the stored image's bytes. */
export async function makeThumbnail (source: NodeJS.ReadableStream, width: ThumbnailWidth): Promise<Buffer> {
  const transformer = sharp({ limitInputPixels: MAX_TOTAL_PIXELS, failOn: 'error' })
    .resize({ width, withoutEnlargement: true })
    .webp({ quality: 80 })
  source.pipe(transformer)
  return await transformer.toBuffer()
}
