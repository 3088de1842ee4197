import { randomUUID } from 'node:crypto'
import t from 'tap'
import { eventIdFloor } from '@holo/events'
import { bucketCount, bucketOf, bucketStarts } from '../src/buckets.js'
import { pruneDedupe } from '../src/modules/ingest/ingest.consumer.js'
import { resolveRange } from '../src/range.js'
import { buildTestApp } from './helper.js'

t.test('buckets and ranges', async (t) => {
  t.equal(bucketOf(new Date('2026-03-09T23:59:59.999Z'), 'day').toISOString(), '2026-03-09T00:00:00.000Z')
  t.equal(bucketOf(new Date('2026-03-10T00:00:00.000Z'), 'hour').toISOString(), '2026-03-10T00:00:00.000Z')
  const from = new Date('2026-03-09T22:30:00Z')
  const to = new Date('2026-03-10T01:00:00Z')
  t.equal(bucketCount(from, to, 'hour'), 3)
  t.equal(bucketStarts(from, to, 'hour').length, 3)
  t.equal(bucketCount(from, new Date('2026-03-10T01:00:00.001Z'), 'hour'), 4, 'to is exclusive')
  const now = new Date('2026-03-10T10:15:00Z')
  const d = resolveRange({}, 1000, now)
  t.same([d.from.toISOString(), d.to.toISOString(), d.buckets],
    ['2026-02-09T00:00:00.000Z', '2026-03-11T00:00:00.000Z', 30])
  const h = resolveRange({ granularity: 'hour' }, 1000, now)
  t.same([h.from.toISOString(), h.to.toISOString(), h.buckets],
    ['2026-03-08T11:00:00.000Z', '2026-03-10T11:00:00.000Z', 48])
  t.throws(() => resolveRange({ granularity: 'hour', from: '2026-01-01T00:00:00Z' }, 1000, now),
    { code: 'RANGE_TOO_LARGE' })
  t.equal(resolveRange({ granularity: 'hour', from: '2026-01-01T00:00:00Z' }, 2000, now).buckets, 68 * 24 + 11,
    'Jan 1 to Mar 10 10:15: 68 days and 11 hours')
})

t.test('pruning forgets only what can no longer be delivered', async (t) => {
  const ta = await buildTestApp(t, { EVENTS_CONSUMER_ENABLED: 'false' })
  const now = new Date('2026-06-01T00:00:00Z')
  const old = new Date(now.getTime() - 40 * 86_400_000)
  const recent = new Date(now.getTime() - 2 * 86_400_000)
  const idAt = (time: Date): string => `${eventIdFloor(time).slice(0, 19)}${randomUUID().slice(19)}`
  const user = randomUUID()
  await ta.deps.pool.query(
    `INSERT INTO applied_events (consumer_group, event_id) VALUES ('analytics', $1), ('analytics', $2), ('audit', $1)`,
    [idAt(old), idAt(recent)])
  await ta.deps.pool.query(
    `INSERT INTO active_users (granularity, bucket, user_id) VALUES ('day', $1, $3), ('day', $2, $3)`,
    [bucketOf(old, 'day'), bucketOf(recent, 'day'), user])
  t.equal(await pruneDedupe(ta.deps.pool, 35, now), 2)
  const left = await ta.deps.pool.query<{ n: number }>(
    'SELECT (SELECT count(*) FROM applied_events)::int + (SELECT count(*) FROM active_users)::int AS n')
  t.equal(left.rows[0]?.n, 3, 'the recent rows and the other group\'s stay')
})
