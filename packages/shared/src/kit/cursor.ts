import { commonErrors } from '../errors.js'

/**
 * Opaque keyset cursors: the listing they belong to (`kind`) and the last
 * row's sort key, base64url-encoded JSON. A cursor names a position, not an
 * offset, so rows added or removed before it never shift the next page.
 * Any cursor that is not one of ours, or belongs to another listing, is the
 * same 400 (INVALID_CURSOR) in every service.
 */
export type CursorValue = string | number
export type CursorShape = Array<'s' | 'n'>

export function encodeCursor (kind: string, values: CursorValue[]): string {
  return Buffer.from(JSON.stringify([kind, ...values])).toString('base64url')
}

function parse (cursor: string): unknown {
  try { return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) } catch { return undefined }
}

/** The kind a cursor was made for, or '' when it is not one of ours. */
export function cursorKind (cursor: string): string {
  const parsed = parse(cursor)
  return Array.isArray(parsed) && typeof parsed[0] === 'string' ? parsed[0] : ''
}

/** The values of a cursor of `kind` whose types match `shape` ('s' string, 'n' finite number); 400 otherwise. */
export function decodeCursor (cursor: string, kind: string, shape: CursorShape): CursorValue[] {
  const parsed = parse(cursor)
  const ok = Array.isArray(parsed) && parsed.length === shape.length + 1 && parsed[0] === kind &&
    shape.every((t, i) => t === 's' ? typeof parsed[i + 1] === 'string' : Number.isFinite(parsed[i + 1]))
  if (!ok) throw commonErrors.INVALID_CURSOR()
  return (parsed as CursorValue[]).slice(1)
}

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
export const UUID = new RegExp(UUID_PATTERN)

/** A (time, id) cursor, checked so that a forged one is a 400 and never reaches SQL as garbage. */
export function decodeTimeCursor (cursor: string, kind: string): { createdAt: string, id: string } {
  const [createdAt, id] = decodeCursor(cursor, kind, ['s', 's']) as [string, string]
  if (!isStorableTime(new Date(createdAt)) || !UUID.test(id)) throw commonErrors.INVALID_CURSOR()
  return { createdAt, id }
}

const FIRST_STORABLE = Date.parse('0001-01-01T00:00:00.000Z')
const LAST_STORABLE = Date.parse('9999-12-31T23:59:59.999Z')

/**
 * A valid time that PostgreSQL's timestamptz and JavaScript both hold: years 1 to 9999. Anything
 * else in a query or cursor is a 400, never a database error.
 */
export function isStorableTime (d: Date): boolean {
  const t = d.getTime()
  return !Number.isNaN(t) && t >= FIRST_STORABLE && t <= LAST_STORABLE
}

/** An (id) cursor for listings ordered by id alone. */
export function decodeIdCursor (cursor: string, kind: string): string {
  const [id] = decodeCursor(cursor, kind, ['s']) as [string]
  if (!UUID.test(id)) throw commonErrors.INVALID_CURSOR()
  return id
}

/**
 * Keeps `limit` of the `limit + 1` rows fetched and makes the next cursor from the last kept one when
 * there were more.
 */
export function page<R, T> (rows: R[], limit: number, toItem: (r: R) => T, cursorOf: (r: R) => string): {
  items: T[]
  nextCursor: string | null
  rows: R[]
} {
  const kept = rows.slice(0, limit)
  const last = kept[kept.length - 1]
  return {
    items: kept.map(toItem),
    nextCursor: rows.length > limit && last !== undefined ? cursorOf(last) : null,
    rows: kept
  }
}
