// The second baseline: a bare Fastify route reading one Redis key, with none
// of the services' plugins. Run as its own process so it gets its own core time.
import Fastify from 'fastify'
import { Redis } from 'ioredis'

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
const key = 'bench:baseline'
await redis.set(key, JSON.stringify({ id: 'baseline', title: 'A bare Fastify route reading one Redis key' }))
const app = Fastify({ logger: false })
app.get('/bench/baseline/redis', async (_request, reply) => {
  reply.type('application/json')
  return await redis.get(key)
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
process.on('SIGTERM', () => { void app.close().then(() => redis.quit()).then(() => process.exit(0)) })
