// The services built in-process from their own modules (config → deps →
// buildApp), never listening: shared by the client generator
// (./documents.ts) and the tests (test/e2e/helpers.ts, test/docs,
// test/observability), so there is one place that knows how a service starts.
import * as authApp from '../../../services/auth/src/app.js'
import * as authConfig from '../../../services/auth/src/config.js'
import * as authDeps from '../../../services/auth/src/deps.js'
import * as cardApp from '../../../services/card/src/app.js'
import * as cardConfig from '../../../services/card/src/config.js'
import * as cardDeps from '../../../services/card/src/deps.js'
import * as fileApp from '../../../services/file/src/app.js'
import * as fileConfig from '../../../services/file/src/config.js'
import * as fileDeps from '../../../services/file/src/deps.js'
import * as notificationApp from '../../../services/notification/src/app.js'
import * as notificationConfig from '../../../services/notification/src/config.js'
import * as notificationDeps from '../../../services/notification/src/deps.js'
import * as analyticsApp from '../../../services/analytics/src/app.js'
import * as analyticsConfig from '../../../services/analytics/src/config.js'
import * as analyticsDeps from '../../../services/analytics/src/deps.js'
import * as auditApp from '../../../services/audit/src/app.js'
import * as auditConfig from '../../../services/audit/src/config.js'
import * as auditDeps from '../../../services/audit/src/deps.js'
import * as billingApp from '../../../services/billing/src/app.js'
import * as billingConfig from '../../../services/billing/src/config.js'
import * as billingDeps from '../../../services/billing/src/deps.js'

export const SERVICES = ['auth', 'card', 'file', 'notification', 'analytics', 'audit', 'billing'] as const
export type ServiceName = typeof SERVICES[number]
/** A service's Fastify instance (the type comes from the services, which depend on fastify). */
export type ServiceApp = Awaited<ReturnType<typeof cardApp.buildApp>>

interface ServiceModules {
  loadConfig: (env: Record<string, string | undefined>) => unknown
  createDeps: (config: never) => Promise<unknown>
  closeDeps: (deps: never) => Promise<void>
  buildApp: (config: never, deps: never, options: { logStream?: NodeJS.WritableStream }) => Promise<ServiceApp>
}

const modules: Record<ServiceName, ServiceModules> = {
  auth: { ...authConfig, ...authDeps, ...authApp } as unknown as ServiceModules,
  card: { ...cardConfig, ...cardDeps, ...cardApp } as unknown as ServiceModules,
  file: { ...fileConfig, ...fileDeps, ...fileApp } as unknown as ServiceModules,
  notification: { ...notificationConfig, ...notificationDeps, ...notificationApp } as unknown as ServiceModules,
  analytics: { ...analyticsConfig, ...analyticsDeps, ...analyticsApp } as unknown as ServiceModules,
  audit: { ...auditConfig, ...auditDeps, ...auditApp } as unknown as ServiceModules,
  billing: { ...billingConfig, ...billingDeps, ...billingApp } as unknown as ServiceModules
}

export interface BuiltService { app: ServiceApp, close: () => Promise<void> }

/**
 * A service built with its own loadConfig, createDeps and buildApp on
 * `NODE_ENV=test` and `env` (not ready, not listening). `close` closes the app,
 * then its clients; when building fails the clients are closed before the error.
 */
export async function createService (name: ServiceName, env: Record<string, string> = {}, options: { logStream?: NodeJS.WritableStream } = {}): Promise<BuiltService> {
  const m = modules[name]
  // Consumers stay off unless asked for: a service built for its document must not read the machine's streams.
  const config = m.loadConfig({ NODE_ENV: 'test', EVENTS_CONSUMER_ENABLED: 'false', ...env })
  const deps = await m.createDeps(config as never)
  try {
    const app = await m.buildApp(config as never, deps as never, options)
    return { app, close: async () => { await app.close(); await m.closeDeps(deps as never) } }
  } catch (err) {
    await m.closeDeps(deps as never)
    throw err
  }
}
