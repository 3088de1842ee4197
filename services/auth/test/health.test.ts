import t from 'tap'
import { buildTestApp } from './helper.js'

t.test('readiness checks postgres and redis', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ url: '/health/ready' })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.status, 'ok')
  t.same(Object.keys(body.checks).sort(), ['postgres', 'redis'])
})
