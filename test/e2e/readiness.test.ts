// Readiness follows Redis: down → 503 naming redis, back → 200 by itself.
// Uses a private redis-server child on a free port; the shared Redis is never touched.
import t from 'tap'
import { testDatabase, testIssuer, testS3 } from '@holo/infra/testing'
import { eventually, ownRedis, startService, type ServiceName } from './helpers.js'

interface Ready { status: string, checks: Record<string, { status: string, error?: string }> }

async function ready (url: string): Promise<{ code: number, body: Ready }> {
  const res = await fetch(`${url}/health/ready`)
  return { code: res.status, body: await res.json() as Ready }
}

const db = await testDatabase(t)
const issuer = await testIssuer(t)
const s3 = await testS3(t)

for (const name of ['auth', 'card', 'file'] as ServiceName[]) t.test(`${name} readiness turns 503 when its Redis stops and 200 when it is back`, async (t) => {
  const redis = await ownRedis(t)
  const svc = await startService(t, name, {
    DATABASE_URL: db.urlFor(name), REDIS_URL: redis.url, AUTH_JWKS_URL: issuer.jwksUrl, S3_ENDPOINT: s3.endpoint, LOG_LEVEL: 'silent'
  })

  let before = await ready(svc.url)
  await eventually(async () => { before = await ready(svc.url); return before.code === 200 }, { tries: 30 })
  t.equal(before.code, 200, `ready with every dependency up: ${JSON.stringify(before.body)}`)
  t.equal(before.body.checks.redis?.status, 'ok')

  await redis.stop()
  let down: { code: number, body: Ready } | undefined
  t.ok(await eventually(async () => { down = await ready(svc.url); return down.code === 503 }), 'turns 503')
  t.equal(down?.body.status, 'unavailable')
  t.equal(down?.body.checks.redis?.status, 'down', 'names redis')
  t.match(down?.body.checks.redis?.error ?? '', /redis/)
  t.equal(down?.body.checks.postgres?.status, 'ok', 'postgres is not blamed')

  const live = await fetch(`${svc.url}/health/live`)
  t.equal(live.status, 200, 'still live: no restart wanted')

  await redis.start()
  let back: { code: number, body: Ready } | undefined
  t.ok(await eventually(async () => { back = await ready(svc.url); return back.code === 200 }), 'turns 200 again by itself')
  t.equal(back?.body.checks.redis?.status, 'ok')
})
