// The typed client (packages/api-client) on the gateway's origin, plus `call` for the few endpoints whose
// documents the generated client does not have yet (roles, the moderation queue, cookie sign-in).
import { createHoloClient, type HoloClient } from '@holo/api-client'

let client: HoloClient | undefined
let token: string | undefined

export function api (): HoloClient {
  client ??= createHoloClient(location.origin, { credentials: 'same-origin' })
  return client
}

export function setToken (value: string | undefined): void {
  token = value
  api().setAccessToken(value)
}

/** An API error with the problem's detail, ready to show. */
export class ApiError extends Error {
  constructor (readonly status: number, readonly code: string | undefined, detail: string) { super(detail) }
}

interface ProblemLike { status?: number, detail?: string, title?: string, code?: string }

/** The data of a typed client's answer, or an ApiError made of its problem. */
export function must<T> (result: { data?: T, error?: unknown, response: Response }): T {
  if (result.error !== undefined || result.data === undefined) throw toError(result.response.status, result.error)
  return result.data
}

function toError (status: number, body: unknown): ApiError {
  const p = (typeof body === 'object' && body !== null ? body : {}) as ProblemLike
  return new ApiError(status, p.code, p.detail ?? p.title ?? `The request failed (HTTP ${status})`)
}

export interface CallOptions { body?: unknown, headers?: Record<string, string> }

/** An untyped JSON call with the access token; an empty answer (204) is undefined. */
export async function call<T> (method: string, path: string, options: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { ...options.headers }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: options.body === undefined ? undefined : JSON.stringify(options.body)
  })
  const text = await res.text()
  const body: unknown = text === '' ? undefined : JSON.parse(text)
  if (!res.ok) throw toError(res.status, body)
  return body as T
}

export const message = (err: unknown): string => err instanceof Error ? err.message : String(err)
