import type { LoggerOptions } from 'pino'

/** Paths that may carry a secret anywhere a request, body or error is logged. */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.password', '*.currentPassword', '*.newPassword',
  '*.token', '*.accessToken', '*.refreshToken',
  'password', 'token', 'accessToken', 'refreshToken',
  '*.*.password', '*.*.token', '*.*.refreshToken', '*.*.accessToken'
]

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
        url: req.url,
        userAgent: req.headers['user-agent']
      })
    }
  }
}
