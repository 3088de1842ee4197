// The hash chain of the audit log (docs/audit.md, "The hash chain"). Each row's hash is the sha256 of one
// canonical JSON document holding the row's content and the previous row's hash, so changing, removing or
// reordering a row breaks every later link. One function makes the document, for the writer and the verifier.
import { createHash } from 'node:crypto'

/** The previous hash of the first row. */
export const GENESIS_HASH = '0'.repeat(64)

/** Everything a row's hash covers, in the form both the writer and the verifier build it from. */
export interface ChainedContent {
  seq: number
  id: string
  type: string
  source: string
  subject: string
  actorId: string | null
  /** RFC 3339 in UTC with milliseconds (`toISOString()`), as stored. */
  time: string
  requestId: string | null
  ip: string | null
  traceparent: string | null
  subjectSeq: number | null
  data: unknown
  recordedAt: string
  prevHash: string
}

/**
 * JSON in the JSON Canonicalization Scheme (RFC 8785) for JSON values: no whitespace, object members sorted by
 * their keys' UTF-16 code units, strings and numbers as ECMAScript's JSON.stringify writes them. Anything that is
 * not a JSON value (undefined, a function, a bigint, a non-finite number) is refused rather than guessed.
 */
export function canonicalJson (value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'string':
      return JSON.stringify(value)
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no non-finite numbers')
      return JSON.stringify(value)
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
      const obj = value as Record<string, unknown>
      // Array.prototype.sort without a comparator compares UTF-16 code units, as RFC 8785 asks.
      const keys = Object.keys(obj).sort()
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`
    }
    default:
      throw new TypeError(`canonical JSON has no ${typeof value} values`)
  }
}

/** The row's hash: lowercase hex sha256 of the UTF-8 bytes of its canonical document. */
export function entryHash (content: ChainedContent): string {
  return createHash('sha256').update(canonicalJson(content), 'utf8').digest('hex')
}

/** Why a row breaks the chain after `previous` (null for the first row), or null when it holds. */
export function chainBreak (
  row: ChainedContent & { hash: string },
  previous: { seq: number, hash: string } | null
): string | null {
  const expectedSeq = previous === null ? 1 : previous.seq + 1
  if (row.seq !== expectedSeq) return `seq ${row.seq} where ${expectedSeq} was expected`
  if (row.prevHash !== (previous?.hash ?? GENESIS_HASH)) return 'prevHash is not the previous row\'s hash'
  const { hash, ...content } = row
  if (entryHash(content) !== hash) return 'hash does not match the row\'s content'
  return null
}
