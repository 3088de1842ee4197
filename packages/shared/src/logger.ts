import type { LoggerOptions } from 'pino'

/** Paths that may carry a secret anywhere a request, body or error is logged. */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization', 'headers.cookie', 'headers["set-cookie"]', 'headers["x-api-key"]', 'headers["x-csrf-token"]',
  '*.headers.authorization', '*.headers.cookie', '*.headers["set-cookie"]', '*.headers["x-api-key"]',
  '*.headers["x-csrf-token"]',
  'authorization', 'cookie', '["set-cookie"]', '["x-csrf-token"]',
  '*.password', '*.currentPassword', '*.newPassword',
  '*.token', '*.accessToken', '*.refreshToken', '*.csrfToken', '*.idToken', '*.secret', '*.signature', '*.sig',
  'password', 'currentPassword', 'newPassword', 'token', 'accessToken', 'refreshToken', 'csrfToken', 'secret',
  '*.*.password', '*.*.currentPassword', '*.*.newPassword', '*.*.token', '*.*.refreshToken', '*.*.accessToken',
  '*.*.csrfToken'
]

/** Query parameters whose value is a credential: signed-URL signatures, tokens, passwords. */
export const SECRET_PARAM = /sig|token|ticket|password|secret|credential|csrf|api[-_]?key|verifier|^code$|^state$/i

/**
 * A URL safe to log: values of secret-looking query parameters (sig, signature,
 * token, X-Amz-Signature, ...) become [redacted]. Works on paths and full URLs.
 */
export function redactUrl (url: string): string {
  const q = url.indexOf('?')
  if (q === -1) return url
  return url.slice(0, q) + url.slice(q).replace(/([?&])([^=&#]*)=([^&#]*)/g, (whole, sep: string, name: string) => {
    let decoded = name
    try { decoded = decodeURIComponent(name) } catch {}
    return SECRET_PARAM.test(decoded) ? `${sep}${name}=[redacted]` : whole
  })
}

/**
 * The URL as logged: secret query values redacted, and path segments that
 * fill a secret-looking route parameter (e.g. /verify/:token) too.
 */
export function loggableUrl (url: string, params: unknown): string {
  let out = redactUrl(url)
  if (params !== null && typeof params === 'object') {
    for (const [name, value] of Object.entries(params as Record<string, unknown>)) {
      if (typeof value !== 'string' || value.length < 8 || !SECRET_PARAM.test(name)) continue
      out = out.split(value).join('[redacted]').split(encodeURIComponent(value)).join('[redacted]')
    }
  }
  return out
}

export interface LogSettings {
  level: string
  service: string
  pretty?: boolean
}

export function loggerOptions ({ level, service }: LogSettings): LoggerOptions {
  return {
    level,
    base: { service },
    redact: { paths: redactPaths, censor: '[redacted]' },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    formatters: { level: (label) => ({ level: label }) },
    serializers: {
      // Safe headers only: no auth material in request logs.
      req: (req: { method: string, url: string, headers: Record<string, unknown>, params?: unknown }) => ({
        method: req.method,
        url: loggableUrl(req.url, req.params),
        userAgent: req.headers['user-agent']
      })
    }
  }
}
