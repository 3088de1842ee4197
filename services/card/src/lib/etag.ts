import { createHash } from 'node:crypto'

export const hashEtag = (body: string): string => `"${createHash('sha1').update(body).digest('base64url').slice(0, 22)}"`

/** Whether an If-None-Match header matches `etag` (weak comparison, as RFC 9110 asks for GET). */
export function noneMatch (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  const bare = etag.replace(/^W\//, '')
  return header.split(',').some((t) => { const v = t.trim(); return v === '*' || v.replace(/^W\//, '') === bare })
}
