import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Redis } from 'ioredis'
import { ConfigError } from '../config.js'
import { corePlugin, serviceFastifyOptions, type CoreOptions } from '../app.js'
import { authPlugin, type AuthMode, type AuthPluginOptions } from '../auth/auth-plugin.js'
import type { KeyResolver } from '../auth/key-store.js'
import type { HealthCheck } from '../plugins/health.js'

export interface ServiceDefinition {
  /** Short name: log field, metric label, trace service. */
  name: string
  /** OpenAPI title and description. */
  title: string
  description: string
  config: { LOG_LEVEL: string, TRUST_PROXY?: string }
  /** Tests capture log lines through it. */
  logStream?: NodeJS.WritableStream
  bodyLimit?: number
  /** Readiness checks (`critical: false` for a dependency the service can do without). */
  checks: Record<string, HealthCheck>
  observe?: CoreOptions['observe']
  /** Access-token verification; absent for a service without signed-in routes. */
  auth?: {
    keys: KeyResolver
    issuer: string
    redis: Redis
    defaultMode?: AuthMode
    /** ROLES_REGISTRY_KEY: where the role → permissions map is read from. */
    registry?: AuthPluginOptions['registry']
  }
  /** Registers the service's modules once the kit is in place. */
  modules: (app: FastifyInstance) => Promise<void>
}

/** `TRUST_PROXY` as Fastify takes it: a hop count or a list of addresses. */
export function trustProxyOf (value: string | undefined): number | string | undefined {
  if (value === undefined) return undefined
  if (/^(true|all|\*)$/i.test(value.trim())) {
    throw new ConfigError(
      'config: TRUST_PROXY must name the proxies (or a hop count), never all: any client could pick its address'
    )
  }
  return /^\d+$/.test(value.trim()) ? Number(value) : value
}

/**
 * A Holo service: Fastify with the shared options, the core plugin (errors,
 * request ids, logs, health, metrics, OpenAPI, request guards), access-token
 * verification with per-route auth modes, then the service's own modules.
 * A new service is its modules plus a call to this.
 */
export async function createService (d: ServiceDefinition): Promise<FastifyInstance> {
  const app = Fastify(serviceFastifyOptions({
    service: d.name,
    logLevel: d.config.LOG_LEVEL,
    logStream: d.logStream,
    bodyLimit: d.bodyLimit,
    trustProxy: trustProxyOf(d.config.TRUST_PROXY)
  })).withTypeProvider<TypeBoxTypeProvider>()

  await app.register(corePlugin, {
    service: d.name,
    observe: d.observe,
    openapi: { title: d.title, description: d.description },
    checks: d.checks
  })
  if (d.auth !== undefined) await app.register(authPlugin, d.auth)
  try {
    await d.modules(app)
  } catch (err) {
    // What started already (the role registry's subscription, timers) stops with the app that will never run.
    await app.close().catch(() => {})
    throw err
  }
  return app
}
