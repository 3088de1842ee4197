// Readiness follows Redis: down → 503 naming redis, back → 200 by itself.
// Uses a private redis-server child on a free port; the shared Redis is never touched.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { testDatabase, testIssuer, testS3 } from '@holo/infra/testing'
import { eventually, ownRedis, SERVICES, startService } from './helpers.js'

interface Ready { status: string, checks: Record<string, { status: string, critical?: boolean, error?: string }> }

async function ready (url: string): Promise<{ code: number, body: Ready }> {
  const res = await fetch(`${url}/health/ready`)
  return { code: res.status, body: await res.json() as Ready }
}

const db = await testDatabase(t)
const issuer = await testIssuer(t)
const s3 = await testS3(t)

// s3rver takes unsigned requests: the file service's bucket is made up front.
const bucket = `ready-${randomUUID().slice(0, 8)}`
const made = await fetch(`${s3.endpoint}/${bucket}`, { method: 'PUT' })
if (!made.ok) throw new Error(`could not create the bucket: ${made.status}`)

for (const name of SERVICES) t.test(`${name} readiness names Redis when it stops ` +
  'and recovers by itself when it is back', async (t) => {
  const redis = await ownRedis(t)
  const svc = await startService(t, name, {
    DATABASE_URL: db.urlFor(name),
    REDIS_URL: redis.url,
    AUTH_JWKS_URL: issuer.jwksUrl,
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: bucket,
    LOG_LEVEL: 'silent'
  })

  let before = await ready(svc.url)
  await eventually(async () => { before = await ready(svc.url); return before.code === 200 }, { tries: 30 })
  t.equal(before.code, 200, `ready with every dependency up: ${JSON.stringify(before.body)}`)
  t.equal(before.body.status, 'ok')
  const critical = before.body.checks.redis?.critical
  t.type(critical, 'boolean', 'redis is checked')

  await redis.stop()
  let down: { code: number, body: Ready } | undefined
  t.ok(await eventually(async () => {
    down = await ready(svc.url)
    return down.body.checks.redis?.status === 'down'
  }), 'redis reported down')
  t.match(down?.body.checks.redis?.error ?? '', /redis/, 'names redis')
  t.equal(down?.body.checks.postgres?.status, 'ok', 'postgres is not blamed')
  if (critical === true) {
    t.equal(down?.code, 503, 'redis is critical here: 503')
    t.equal(down?.body.status, 'unavailable')
  } else {
    t.equal(down?.code, 200, 'redis is optional here: still ready, degraded')
    t.equal(down?.body.status, 'degraded')
  }

  const live = await fetch(`${svc.url}/health/live`)
  t.equal(live.status, 200, 'still live: no restart wanted')

  await redis.start()
  let back: { code: number, body: Ready } | undefined
  t.ok(await eventually(async () => {
    back = await ready(svc.url)
    return back.body.status === 'ok'
  }), 'ok again by itself')
  t.equal(back?.code, 200)
  t.equal(back?.body.checks.redis?.status, 'ok')
})

t.test('auth, which needs Redis for sessions and rate limits, is unready without it', async (t) => {
  const redis = await ownRedis(t)
  const svc = await startService(t, 'auth', {
    DATABASE_URL: db.urlFor('auth'),
    REDIS_URL: redis.url,
    LOG_LEVEL: 'silent'
  })
  await redis.stop()
  let down: { code: number, body: Ready } | undefined
  t.ok(await eventually(async () => { down = await ready(svc.url); return down.code === 503 }), 'turns 503')
  t.equal(down?.body.checks.redis?.status, 'down')
})
