// The typed client (packages/api-client) on the gateway's origin, with the member's access token.
import { createHoloClient, type HoloClient } from '@holo/api-client'

let client: HoloClient | undefined

export function api (): HoloClient {
  client ??= createHoloClient(location.origin, { credentials: 'same-origin' })
  return client
}

export function setToken (value: string | undefined): void {
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

/** Throws the ApiError of a failed answer that has no data to return (a 204). */
export function mustSucceed (result: { error?: unknown, response: Response }): void {
  if (result.error !== undefined || !result.response.ok) throw toError(result.response.status, result.error)
}

function toError (status: number, body: unknown): ApiError {
  const p = (typeof body === 'object' && body !== null ? body : {}) as ProblemLike
  return new ApiError(status, p.code, p.detail ?? p.title ?? `The request failed (HTTP ${status})`)
}

export const message = (err: unknown): string => err instanceof Error ? err.message : String(err)
