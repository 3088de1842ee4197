import type { LoggerOptions } from 'pino'

/** Paths that may carry a secret anywhere a request, body or error is logged. */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization', 'headers.cookie', 'headers["set-cookie"]', 'headers["x-api-key"]',
  '*.headers.authorization', '*.headers.cookie', '*.headers["set-cookie"]', '*.headers["x-api-key"]',
  'authorization', 'cookie',
  '*.password', '*.currentPassword', '*.newPassword',
  '*.token', '*.accessToken', '*.refreshToken', '*.idToken', '*.secret', '*.signature', '*.sig',
  'password', 'currentPassword', 'newPassword', 'token', 'accessToken', 'refreshToken', 'secret',
  '*.*.password', '*.*.currentPassword', '*.*.newPassword', '*.*.token', '*.*.refreshToken', '*.*.accessToken'
]

/** Query parameters whose value is a credential: signed-URL signatures, tokens, passwords. */
export const SECRET_PARAM = /sig|token|password|secret|credential|api[-_]?key/i

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
      req: (req: { method: string, url: string, headers: Record<string, unknown> }) => ({
        method: req.method,
        url: redactUrl(req.url),
        userAgent: req.headers['user-agent']
      })
    }
  }
}
