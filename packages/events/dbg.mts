import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { makeEvent, startConsumer } from './src/index.js'
const redis = new Redis('redis://127.0.0.1:6379')
const prefix = `dbg.${randomUUID().slice(0, 6)}.`
const stream = `${prefix}card`
const log = { debug: (o: object, m: string) => console.log('D', m, JSON.stringify(o)), info: (o: object, m: string) => console.log('I', m, JSON.stringify(o)), warn: (o: object, m: string) => console.log('W', m, JSON.stringify(o)), error: (o: object, m: string) => console.log('E', m, JSON.stringify(o)) }
const seen: string[] = []
const c = await startConsumer({ redis, streams: [stream], streamPrefix: prefix, group: 'g', maxAttempts: 3, backoff: () => 50, blockMs: 200, log,
  handle: async (e, _tx, d) => { seen.push(`${e.subject.slice(0,4)}#${d.attempt}`); if (e.subject.startsWith('0000')) throw new Error('boom') } })
const mk = (s: string) => JSON.stringify(makeEvent('holo.card.liked.v1', { subject: s, actorId: randomUUID(), data: { ownerId: randomUUID(), likeCount: 1 } }))
for (const s of ['1111', '0000', '2222', '3333']) await redis.xadd(stream, '*', 'event', mk(s + randomUUID().slice(4)))
await new Promise((r) => setTimeout(r, 3000))
console.log(seen, JSON.stringify(await redis.call("XINFO", "GROUPS", stream)), JSON.stringify(await redis.call("XPENDING", stream, "g")))
await c.stop()
const keys = await redis.keys(`${prefix}*`); if (keys.length) await redis.del(...keys)
redis.disconnect()
