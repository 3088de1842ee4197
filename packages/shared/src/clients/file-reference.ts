// May a caller reference a file from their own records (a card's artwork, an avatar)? Asked of the file
// service with the caller's own token, so the file service applies its own rule (owner or admin).

/** The file service's answer for one caller: theirs to use, not there (or not visible to them), or another user's. */
export type FileReference = 'ok' | 'missing' | 'foreign'

/** The file service did not answer usefully. `dependency` makes the shared problem handler answer 503 naming it. */
export class FileServiceUnavailableError extends Error {
  override name = 'FileServiceUnavailableError'
  readonly dependency = 'file'
}

export interface FileReferenceQuery {
  /** The file service's base URL, e.g. `http://127.0.0.1:3003` (a path prefix is kept). */
  baseUrl: string
  /** The caller's access token, without `Bearer `. */
  token: string
  fileId: string
  /** Whole request, headers and body; default 2000. */
  timeoutMs?: number
  /** Sent as X-Request-Id, so the file service's log line carries the caller's request id. */
  requestId?: string
}

/**
 * Asks `GET /api/v1/files/{id}/ownership`: 204 → 'ok', 404 → 'missing' (another user's private file looks
 * missing too), 403 → 'foreign'. Anything else, an unreachable service or a timeout throws
 * FileServiceUnavailableError: the caller must then write nothing.
 */
export async function checkFileReference (q: FileReferenceQuery): Promise<FileReference> {
  const base = q.baseUrl.endsWith('/') ? q.baseUrl : `${q.baseUrl}/`
  const url = new URL(`api/v1/files/${encodeURIComponent(q.fileId)}/ownership`, base)
  const headers: Record<string, string> = { authorization: `Bearer ${q.token}`, accept: 'application/problem+json' }
  if (q.requestId !== undefined) headers['x-request-id'] = q.requestId
  let status: number
  try {
    const res = await fetch(url, { headers, redirect: 'error', signal: AbortSignal.timeout(q.timeoutMs ?? 2000) })
    status = res.status
    // Only the status matters; reading the rest frees the connection for the next call.
    await res.arrayBuffer()
  } catch (err) {
    throw new FileServiceUnavailableError(`the file service did not answer: ${(err as Error).message}`, { cause: err })
  }
  if (status === 204 || status === 200) return 'ok'
  // 400: the file service does not take it for a file id at all.
  if (status === 404 || status === 400) return 'missing'
  if (status === 403) return 'foreign'
  // 401 too: the file service refused a token this service accepted (keys out of step); not the caller's fault.
  throw new FileServiceUnavailableError(`the file service answered ${status}`)
}

/** "May this caller use this file?", as a service's dependencies hold it. */
export type FileReferenceCheck = (fileId: string, caller: { token: string, requestId: string }) => Promise<FileReference>

/** The check against the file service at `baseUrl`, on behalf of each caller. */
export const fileReferenceCheck = (o: { baseUrl: string, timeoutMs: number }): FileReferenceCheck =>
  async (fileId, caller) => await checkFileReference({ ...o, fileId, token: caller.token, requestId: caller.requestId })
