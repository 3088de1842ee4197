// Child of obs-logging.test.ts: an app logging to stdout the production way.
import Fastify from 'fastify'
import { symbols } from 'pino'
import { corePlugin, serviceFastifyOptions } from '../src/index.js'

const app = Fastify(serviceFastifyOptions({ service: 'card', logLevel: 'info' }))
await app.register(corePlugin, { service: 'card', checks: {}, openapi: { title: 't', description: 'd' } })
app.get('/x', async () => ({ ok: true }))
await app.ready()
const stream = (
  app.log as unknown as Record<symbol, { constructor: { name: string }, sync?: boolean }>
)[symbols.streamSym]
app.log.info({ sonic: stream?.constructor.name === 'SonicBoom', sync: stream?.sync }, 'stream kind')
for (let i = 0; i < 200; i++) await app.inject('/x')
await app.close()
