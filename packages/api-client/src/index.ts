import createClient, { type Client, type ClientOptions } from 'openapi-fetch'
import type { paths as AuthPaths, components as AuthComponents } from './auth.js'
import type { paths as CardPaths, components as CardComponents } from './card.js'
import type { paths as FilePaths, components as FileComponents } from './file.js'
import type { paths as NotificationPaths, components as NotificationComponents } from './notification.js'
import type { paths as AnalyticsPaths, components as AnalyticsComponents } from './analytics.js'
import type { paths as AuditPaths, components as AuditComponents } from './audit.js'
import type { paths as BillingPaths, components as BillingComponents } from './billing.js'

export type { AuthPaths, CardPaths, FilePaths, NotificationPaths, AnalyticsPaths, AuditPaths, BillingPaths }
export type {
  AuthComponents, CardComponents, FileComponents, NotificationComponents, AnalyticsComponents, AuditComponents,
  BillingComponents
}
export type Problem = AuthComponents['schemas']['Problem']

export interface HoloClient {
  auth: Client<AuthPaths>
  card: Client<CardPaths>
  file: Client<FilePaths>
  /** The inbox and notification preferences. */
  notification: Client<NotificationPaths>
  analytics: Client<AnalyticsPaths>
  /** The audit log and the event bus's admin API. */
  audit: Client<AuditPaths>
  /** Checkout, entitlements, purchases, earnings; revenue and refunds for administrators. */
  billing: Client<BillingPaths>
  /** Sets (or clears) the bearer token every later call of the clients sends. */
  setAccessToken: (token: string | undefined) => void
}

/**
 * A typed client of the whole API behind one base URL (the gateway, or a
 * service directly: the paths are the same). Paths, parameters, bodies and
 * responses are checked against the services' OpenAPI documents.
 */
export function createHoloClient (baseUrl: string, options: Omit<ClientOptions, 'baseUrl'> = {}): HoloClient {
  let token: string | undefined
  const withAuth = {
    onRequest ({ request }: { request: Request }) {
      if (token !== undefined && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${token}`)
      return request
    }
  }
  const make = <P extends {}>(): Client<P> => {
    const client = createClient<P>({ ...options, baseUrl: baseUrl.replace(/\/$/, '') })
    client.use(withAuth)
    return client
  }
  return {
    auth: make<AuthPaths>(),
    card: make<CardPaths>(),
    file: make<FilePaths>(),
    notification: make<NotificationPaths>(),
    analytics: make<AnalyticsPaths>(),
    audit: make<AuditPaths>(),
    billing: make<BillingPaths>(),
    setAccessToken: (t) => { token = t }
  }
}

export {
  openNotificationStream, type LiveNotification, type NotificationStream, type NotificationStreamOptions
} from './live.js'
