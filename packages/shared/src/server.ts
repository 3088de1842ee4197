import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { ConfigError } from './config.js'

export interface StartOptions<C> {
  loadConfig: (env: NodeJS.ProcessEnv) => C
  start: (config: C) => Promise<{ app: FastifyInstance, close: () => Promise<void> }>
  host: (config: C) => string
  port: (config: C) => number
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
  const { app, close } = await o.start(config)
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'closing')
    await app.close()
    await close()
  })
  await app.listen({ host: o.host(config), port: o.port(config) })
}
