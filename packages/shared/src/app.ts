import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import fp from 'fastify-plugin'
import { createRequire } from 'node:module'
import { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { destination } from 'pino'
import AjvCompiler from '@fastify/ajv-compiler'
import { loggableUrl, loggerOptions } from './logger.js'
import { failureOf, problemPlugin, sendProblem } from './plugins/problem.js'
import { requestGuardsPlugin } from './plugins/request-guards.js'
import { healthPlugin, type HealthCheck } from './plugins/health.js'
import { metricsPlugin } from './plugins/metrics.js'
import { openapiPlugin, type OpenApiOptions } from './plugins/openapi.js'
import { instrumentRedis, observePgPool, type PoolSource } from './observability/instruments.js'

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** Takes the gateway's X-Request-Id when it is sane, else makes one. */
export function requestIdFrom (req: IncomingMessage): string {
  const given = req.headers['x-request-id']
  return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID()
}

export interface ServiceOptions {
  service: string
  logLevel: string
  /** Optional pino destination (tests capture log lines through it). */
  logStream?: NodeJS.WritableStream
  bodyLimit?: number
  /**
   * Which peers may set the client address through X-Forwarded-For: a hop
   * count or a list of addresses/CIDRs/`loopback`. Never `true`, which lets
   * any client pick its own address. Default: a proxy on this machine.
   */
  trustProxy?: number | string
  /**
   * Without a logStream, lines go to stdout through an asynchronous pino
   * destination (default true) so logging does not cap throughput; the core
   * plugin flushes it when the app closes and pino flushes it on exit.
   */
  asyncLogging?: boolean
}

/** Where log lines go: the given stream, else stdout, asynchronously unless told otherwise. */
function logDestination (o: ServiceOptions): NodeJS.WritableStream | undefined {
  if (o.logStream !== undefined) return o.logStream
  if (o.asyncLogging === false) return undefined
  return destination({ dest: 1, sync: false, minLength: 0 }) as unknown as NodeJS.WritableStream
}


const ajvCompilers = AjvCompiler()
type ValidatorFactory = ReturnType<typeof AjvCompiler>

/**
 * Query strings, params and headers arrive as text and are coerced to their
 * schema's types; a JSON body is taken as sent, so `{"name": false}` is a 400
 * naming the field, never the string "false".
 */
const buildValidator: ValidatorFactory = (external, options) => {
  const coercing = ajvCompilers(external, options)
  const custom = (options as { customOptions?: object } | undefined)?.customOptions
  const exact = ajvCompilers(
    external,
    { ...options, customOptions: { ...custom, coerceTypes: false } } as typeof options
  )
  return (route) => route.httpPart === 'body' ? exact(route) : coercing(route)
}

type HelmetMiddleware = (req: object, res: object, next: (err?: unknown) => void) => void
/** The helmet package that @fastify/helmet depends on (one version, its options). */
const helmet = createRequire(createRequire(import.meta.url).resolve('@fastify/helmet'))('helmet') as
  (options: object) => HelmetMiddleware

/** The headers helmet sets with these options, run once against a response that records them. */
export function helmetHeaders (options: object): Record<string, string> {
  const headers: Record<string, string> = {}
  const res = {
    setHeader: (name: string, value: unknown) => { headers[name.toLowerCase()] = String(value) },
    removeHeader: (name: string) => { delete headers[name.toLowerCase()] }
  }
  let failed: unknown
  helmet(options)({}, res, (err) => { failed = err })
  if (failed !== undefined) throw failed
  return headers
}

/** A request's logger that becomes a real pino child on its first use. */
class LazyChildLogger {
  private made: FastifyBaseLogger | undefined
  constructor (private readonly make: () => FastifyBaseLogger) {}
  private get real (): FastifyBaseLogger { return (this.made ??= this.make()) }
  get level (): string { return this.real.level }
  set level (level: string) { this.real.level = level }
  fatal (...args: unknown[]): void { (this.real.fatal as (...a: unknown[]) => void)(...args) }
  error (...args: unknown[]): void { (this.real.error as (...a: unknown[]) => void)(...args) }
  warn (...args: unknown[]): void { (this.real.warn as (...a: unknown[]) => void)(...args) }
  info (...args: unknown[]): void { (this.real.info as (...a: unknown[]) => void)(...args) }
  debug (...args: unknown[]): void { (this.real.debug as (...a: unknown[]) => void)(...args) }
  trace (...args: unknown[]): void { (this.real.trace as (...a: unknown[]) => void)(...args) }
  silent (...args: unknown[]): void { (this.real.silent as (...a: unknown[]) => void)(...args) }
  child (...args: Parameters<FastifyBaseLogger['child']>): FastifyBaseLogger { return this.real.child(...args) }
  isLevelEnabled (level: string): boolean {
    return (this.real as unknown as { isLevelEnabled: (l: string) => boolean }).isLevelEnabled(level)
  }
  bindings (): Record<string, unknown> {
    return (this.real as unknown as { bindings: () => Record<string, unknown> }).bindings()
  }
  flush (cb?: (err?: Error) => void): void { (this.real as unknown as { flush: (cb?: (err?: Error) => void) => void }).flush(cb) }
}

/** Fastify options every Holo service shares. */
export function serviceFastifyOptions (o: ServiceOptions): FastifyServerOptions {
  const logger = loggerOptions({ level: o.logLevel, service: o.service })
  const stream = logDestination(o)
  return {
    logger: stream !== undefined ? { ...logger, stream } : logger,
    genReqId: requestIdFrom,
    requestIdHeader: false,
    // Our own onResponse hook writes the one line per request.
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    // request.log is made when a request first logs: most requests never do (their access line is written by
    // the service logger), and making a pino child with redaction cost a twentieth of a cached read.
    childLoggerFactory: (logger, bindings, opts) => new LazyChildLogger(() => logger.child(bindings, opts)),
    // Fastify takes a hop count too (proxy-addr), though its types do not say so.
    trustProxy: (o.trustProxy ?? 'loopback') as string,
    return503OnClosing: true,
    bodyLimit: o.bodyLimit ?? 1024 * 1024,
    ajv: { customOptions: { allErrors: true, removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
    schemaController: { compilersFactory: { buildValidator } },
    // The router's own refusals are problems like every other 400.
    frameworkErrors: (error, request, reply) => {
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
        sendProblem(request, reply, 400, 'VALIDATION_FAILED', 'A path parameter is too long',
          { errors: [{ field: 'path', in: 'params', message: 'has a parameter too long to name anything here' }] })
      } else if (error.code === 'FST_ERR_BAD_URL') {
        sendProblem(request, reply, 400, 'MALFORMED_URL', 'The URL is not valid percent-encoded UTF-8')
      } else {
        sendProblem(request, reply, error.statusCode ?? 400, 'BAD_REQUEST', error.message)
      }
    }
  }
}

export interface CoreOptions {
  service: string
  checks: Record<string, HealthCheck>
  openapi: Omit<OpenApiOptions, 'service'>
  /**
   * Clients whose use /metrics reports: the pg pool (the adapter from
   * `pgAdapter()`, or a pg Pool) and the ioredis client's command latency.
   */
  observe?: { pg?: PoolSource, redis?: object }
}

/**
 * Cross-cutting behaviour of every service: problem+json errors, request id
 * echo, one log line per response, security headers, health routes,
 * /metrics and /openapi.json. Register it first: routes come after.
 */
export const corePlugin = fp(async function corePlugin (app: FastifyInstance, opts: CoreOptions) {
  await app.register(problemPlugin)
  await app.register(requestGuardsPlugin)
  await app.register(openapiPlugin, { service: opts.service, ...opts.openapi })
  await app.register(metricsPlugin, { service: opts.service })
  if (opts.observe?.pg !== undefined) observePgPool(app.metrics, opts.observe.pg)
  if (opts.observe?.redis !== undefined) instrumentRedis(app.metrics, opts.observe.redis)
  // Helmet's security headers are the same on every response of an API: computed once by helmet itself
  // (the one @fastify/helmet wraps, which re-ran every middleware per request), set with the request id.
  const securityHeaders = helmetHeaders({
    contentSecurityPolicy: false, crossOriginResourcePolicy: { policy: 'cross-origin' }
  })
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(securityHeaders)
    reply.header('x-request-id', request.id)
    done()
  })
  // One line per request, written when the response is done. A success's
  // line is built only from safe fields (the URL through loggableUrl), so it
  // skips the redaction walk, which tripled its cost; a failure's line carries
  // why it failed (and the cause of a 5xx) and goes through redaction.
  const accessLog = app.log.child({}, { redact: { paths: [] } } as object)
  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode
    const line: Record<string, unknown> = {
      requestId: request.id,
      method: request.method,
      url: loggableUrl(request.url, request.params),
      route: request.routeOptions.url,
      status,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
      userId: (request as { user?: { id?: string } | null }).user?.id
    }
    const failure = failureOf(request)
    if (failure === undefined && status < 400) return accessLog.info(line, 'request completed')
    if (failure !== undefined) Object.assign(line, failure)
    // request.log binds the request id already.
    delete line.requestId
    if (status >= 500) request.log.error(line, 'request completed')
    else request.log.warn(line, 'request completed')
  })

  // Asynchronous destinations keep a buffer: write it out before the process goes.
  app.addHook('onClose', async () => {
    const log = app.log as { flush?: (cb: () => void) => void }
    if (typeof log.flush === 'function') await new Promise<void>((resolve) => { log.flush?.(() => resolve()) })
  })

  await app.register(healthPlugin, { checks: opts.checks })
}, { name: 'holo-core' })
