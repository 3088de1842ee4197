import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { ConfigError } from './config.js'
import { startTracing } from './observability/tracing.js'

export interface StartOptions<C> {
  loadConfig: (env: NodeJS.ProcessEnv) => C
  start: (config: C) => Promise<{ app: FastifyInstance, close: () => Promise<void> }>
  host: (config: C) => string
  port: (config: C) => number
  /** Service name for traces (OTEL_SERVICE_NAME overrides it). */
  service?: string
}

/**
 * The only place that touches process: config from env, build, listen, and on
 * SIGTERM/SIGINT stop accepting, finish in-flight requests, close clients, exit 0.
 */
export async function runService<C> (o: StartOptions<C>): Promise<void> {
  let config: C
  try {
    config = o.loadConfig(process.env)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
  // Before the app is built: tracing instruments Fastify instances as they are created.
  const tracing = await startTracing({ service: o.service ?? 'holo-service', env: process.env })
  const { app, close } = await o.start(config)
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'closing')
    await app.close()
    await close()
    await tracing?.shutdown()
  })
  await app.listen({ host: o.host(config), port: o.port(config) })
}
