import { invalidField } from '../errors.js'

/**
 * Opaque keyset cursors: the sort they belong to and the last row's sort key,
 * base64url-encoded JSON. A cursor names a position, not an offset, so rows
 * added or removed before it never shift the next page.
 */
export function encodeCursor (kind: string, values: Array<string | number>): string {
  return Buffer.from(JSON.stringify([kind, ...values])).toString('base64url')
}

/** The kind a cursor was made for, or '' when it is not one of ours. */
export function cursorKind (cursor: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    return Array.isArray(parsed) && typeof parsed[0] === 'string' ? parsed[0] : ''
  } catch { return '' }
}

/** The values of a cursor of `kind`, whose types match `shape` ('s' string, 'n' number); 400 otherwise. */
export function decodeCursor (cursor: string, kind: string, shape: Array<'s' | 'n'>): Array<string | number> {
  let parsed: unknown
  try { parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) } catch { parsed = undefined }
  const ok = Array.isArray(parsed) && parsed.length === shape.length + 1 && parsed[0] === kind &&
    shape.every((t, i) => typeof parsed[i + 1] === (t === 's' ? 'string' : 'number'))
  if (!ok) throw invalidField('cursor', 'querystring', 'is not a cursor of this listing (cursors belong to one sort order)', 'INVALID_CURSOR')
  return (parsed as Array<string | number>).slice(1)
}

/** Keeps `limit` rows and makes the next cursor from the last one when there were more. */
export function page<R, T> (rows: R[], limit: number, toItem: (r: R) => T, cursorOf: (r: R) => string): { items: T[], nextCursor: string | null, rows: R[] } {
  const kept = rows.slice(0, limit)
  const last = kept[kept.length - 1]
  return { items: kept.map(toItem), nextCursor: rows.length > limit && last !== undefined ? cursorOf(last) : null, rows: kept }
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const malformedCursor = (): never => { throw invalidField('cursor', 'querystring', 'is malformed', 'INVALID_CURSOR') }

/** A (createdAt, id) cursor, checked so that a forged one is a 400 and never reaches SQL as garbage. */
export function decodeTimeCursor (cursor: string, kind: string): { createdAt: string, id: string } {
  const [createdAt, id] = decodeCursor(cursor, kind, ['s', 's']) as [string, string]
  if (Number.isNaN(Date.parse(createdAt)) || !UUID.test(id)) malformedCursor()
  return { createdAt, id }
}
