// What the account routes share: the request context the services take, and the keys of the rate limits.
import type { FastifyRequest } from 'fastify'
import type { Limit } from '../../plugins/rate-limits.js'
import { normaliseEmail, type RequestContext } from './accounts.core.js'
import { accountKey } from './accounts.throttle.js'

export const contextOf = (request: FastifyRequest): RequestContext => ({
  ip: request.ip,
  userAgent: request.headers['user-agent'] ?? null,
  requestId: request.id,
  log: request.log
})

/** The account a request body names, as a counter key (a hash of the normalised email). */
const accountOf = (request: FastifyRequest): string | undefined => {
  const email = (request.body as { email?: unknown } | undefined)?.email
  return typeof email === 'string' ? accountKey(normaliseEmail(email)) : undefined
}

/** At most `max` attempts per client address per window, counted under `<name>:ip`. */
export const byIp = (name: string, max: number): Limit => ({ name: `${name}:ip`, max, key: (r) => r.ip })
/** At most `max` attempts per account named in the body per window, counted under `<name>:account`. */
export const byAccount = (name: string, max: number): Limit => ({ name: `${name}:account`, max, key: accountOf })

