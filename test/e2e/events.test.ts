// The event bus end to end, with every service real and in-process: what auth,
// card and file do reaches audit and analytics through their outboxes, the
// relays and Redis Streams; a refused request publishes nothing; and while
// Redis is down the producers keep answering, then every waiting event
// arrives, none twice.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeImage } from '../../services/file/test/helper.js'
import { testDatabase, testGateway, testS3 } from '@holo/infra/testing'
import { openNotificationStream, type LiveNotification } from '@holo/api-client'
import { notifications, openSse } from '../../services/notification/test/sse.js'
import { eventually, ownRedis, startBusStack, type RunningService, type ServiceName } from './helpers.js'

const ADMIN = { email: 'bus-admin@example.test', password: 'bus admin passphrase' }

const db = await testDatabase(t)
const s3 = await testS3(t)
const redis = await ownRedis(t)
const bucket = `bus-${randomUUID().slice(0, 8)}`
if (!(await fetch(`${s3.endpoint}/${bucket}`, { method: 'PUT' })).ok) throw new Error('could not create the bucket')

const { services, upstreams } = await startBusStack(t, {
  db,
  redisUrl: redis.url,
  admin: ADMIN,
  services: ['file', 'card', 'audit', 'analytics', 'notification'],
  env: { file: { S3_ENDPOINT: s3.endpoint, S3_BUCKET: bucket }, card: { CARD_VIEWS_FLUSH_MS: '200' } }
})
const { auth, file, card, audit, analytics, notification } = services as Record<ServiceName, RunningService>
const gateway = await testGateway(t, upstreams)

async function call (svc: RunningService, method: string, path: string, o: { token?: string, body?: unknown } = {}) {
  const res = await fetch(`${svc.url}${path}`, {
    method,
    headers: {
      ...(o.token !== undefined ? { authorization: `Bearer ${o.token}` } : {}),
      ...(o.body !== undefined ? { 'content-type': 'application/json' } : {})
    },
    body: o.body === undefined ? undefined : JSON.stringify(o.body)
  })
  const text = await res.text()
  return { status: res.status, requestId: res.headers.get('x-request-id'), json: text === '' ? null : JSON.parse(text) }
}

const admin = (await call(auth, 'POST', '/api/v1/auth/login', { body: ADMIN })).json.accessToken as string
interface AuditItem { id: string, type: string, subject: string, actorId: string | null, requestId: string | null }
const auditOf = async (query: string): Promise<AuditItem[]> =>
  (await call(audit, 'GET', `/api/v1/audit/events?limit=100&${query}`, { token: admin })).json?.items ?? []

t.test('what each producer does reaches audit and analytics, with who and which request', async (t) => {
  const signup = await call(auth, 'POST', '/api/v1/auth/register', {
    body: { email: 'bus-user@example.test', username: 'bususer', password: 'bus user passphrase 1' }
  })
  t.equal(signup.status, 201)
  const user = signup.json.user.id as string
  const token = signup.json.accessToken as string

  const form = new FormData()
  form.append('file', new Blob([new Uint8Array(await makeImage({ width: 20, height: 20, noise: true }))], {
    type: 'image/png'
  }), 'a.png')
  const uploaded = await fetch(`${file.url}/api/v1/files`, {
    method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form
  })
  t.equal(uploaded.status, 201)
  const fileId = (await uploaded.json() as { id: string }).id

  const refused = await call(card, 'POST', '/api/v1/cards', { token, body: { title: '' } })
  t.equal(refused.status, 400, 'a refused create')
  const created = await call(card, 'POST', '/api/v1/cards', {
    token, body: { title: 'Bus Dragon', artworkFileId: fileId }
  })
  t.equal(created.status, 201)
  const cardId = created.json.id as string
  t.equal((await call(card, 'PUT', `/api/v1/cards/${cardId}/like`, { token: admin })).status, 204)
  t.equal((await call(card, 'GET', `/api/v1/cards/${cardId}`)).status, 200, 'a view')

  t.ok(await eventually(async () => (await auditOf(`subject=${cardId}`)).length === 2, { tries: 100 }),
    'audit logged the card\'s two actions')
  const cardEvents = await auditOf(`subject=${cardId}`)
  t.same(cardEvents.map((e) => e.type).sort(), ['holo.card.created.v1', 'holo.card.liked.v1'])
  t.match(cardEvents.find((e) => e.type === 'holo.card.created.v1'), { actorId: user, requestId: created.requestId },
    'the create, traced to its request')
  t.notOk(cardEvents.some((e) => e.requestId === refused.requestId), 'the refused request left no trace')
  t.match(await auditOf(`subject=${user}&type=holo.user.registered`), [{ actorId: user, requestId: signup.requestId }])
  t.match(await auditOf(`subject=${fileId}`), [{ type: 'holo.file.uploaded.v1', actorId: user }])

  const overview = async () => (await call(analytics, 'GET', '/api/v1/analytics/overview?granularity=day',
    { token: admin })).json as { series: Record<string, Array<{ value: number }>> }
  const total = (series: Array<{ value: number }> | undefined): number => (series ?? []).reduce((n, p) => n + p.value, 0)
  t.ok(await eventually(async () => {
    const s = (await overview()).series
    return total(s.cardsCreated) === 1 && total(s.likes) === 1 && total(s.uploads) === 1 && total(s.views) === 1
  }, { tries: 100 }), 'analytics counted the card, the like, the view and the upload')
  // The view is on the bus now; an event of the same subject after it is logged only after it (one subject's
  // events are applied in order), so once the unlike is in the log, a logged view would be too.
  t.equal((await call(card, 'DELETE', `/api/v1/cards/${cardId}/like`, { token: admin })).status, 204)
  t.ok(await eventually(async () => (await auditOf(`subject=${cardId}`)).length === 3, { tries: 100 }),
    'audit logged the unlike')
  t.same((await auditOf(`subject=${cardId}`)).map((e) => e.type).sort(),
    ['holo.card.created.v1', 'holo.card.liked.v1', 'holo.card.unliked.v1'],
    'the counted view is nobody\'s action: analytics has it, the audit log does not')
  const s = (await overview()).series
  t.equal(total(s.signups), 2, 'two signups: the bootstrap admin and the user')
  t.equal(total(s.logins), 1, 'one password login (the admin\'s)')
})

t.test('a like reaches the owner\'s open stream through the gateway (SSE, with a ticket)', async (t) => {
  const owner = (await call(auth, 'POST', '/api/v1/auth/register', {
    body: { email: 'bus-owner@example.test', username: 'busowner', password: 'bus owner passphrase 1' }
  })).json
  const made = await call(card, 'POST', '/api/v1/cards', { token: owner.accessToken, body: { title: 'Streamed Star' } })
  const ticket = await fetch(`${gateway.url}/api/v1/notifications/stream-ticket`, {
    method: 'POST', headers: { authorization: `Bearer ${owner.accessToken as string}` }
  })
  t.equal(ticket.status, 200)
  const { ticket: id } = await ticket.json() as { ticket: string }
  const stream = await openSse(`${gateway.url}/api/v1/notifications/stream?ticket=${encodeURIComponent(id)}`)
  t.teardown(() => { stream.close() })
  t.equal(stream.status, 200, 'the stream opens through nginx')
  t.ok(await eventually(() => stream.events.some((e) => e.event === 'unread')), 'the unread count comes first')
  t.equal((await call(card, 'PUT', `/api/v1/cards/${made.json.id as string}/like`, { token: admin })).status, 204)
  t.ok(await eventually(() => notifications(stream.events)
    .some((e) => (JSON.parse(e.data) as { type: string }).type === 'card.liked'), { tries: 100 }),
  'the like arrives on the open stream, unbuffered by the gateway')
  const liked = notifications(stream.events).find((e) => (JSON.parse(e.data) as { type: string }).type === 'card.liked')
  t.match(JSON.parse(liked?.data ?? '{}'), { type: 'card.liked', title: /Streamed Star/ })
  const reused = await fetch(`${gateway.url}/api/v1/notifications/stream?ticket=${encodeURIComponent(id)}`)
  t.equal(reused.status, 401, 'a ticket works once')
  await reused.body?.cancel()
})

t.test('the typed client\'s stream helper: live notifications, then a resume with exactly what was missed', async (t) => {
  const owner = (await call(auth, 'POST', '/api/v1/auth/register', {
    body: { email: 'bus-reader@example.test', username: 'busreader', password: 'bus reader passphrase 1' }
  })).json
  const made = await call(card, 'POST', '/api/v1/cards', { token: owner.accessToken, body: { title: 'Resumed Comet' } })
  const fans = await Promise.all(['one', 'two', 'three'].map(async (n) => (await call(auth, 'POST',
    '/api/v1/auth/register', {
      body: { email: `bus-fan-${n}@example.test`, username: `busfan${n}`, password: `bus fan passphrase ${n}` }
    })).json.accessToken as string))
  const seen: LiveNotification[] = []
  const counts: number[] = []
  const options = {
    baseUrl: gateway.url,
    accessToken: () => owner.accessToken as string,
    onNotification: (n: LiveNotification) => { seen.push(n) },
    onUnread: (c: number) => { counts.push(c) },
    retryMs: 200
  }
  const first = openNotificationStream(options)
  t.teardown(() => { first.close() })
  t.ok(await eventually(() => counts.length > 0), 'connected: the unread count arrived')
  await call(card, 'PUT', `/api/v1/cards/${made.json.id as string}/like`, { token: fans[0] })
  t.ok(await eventually(() => seen.some((n) => n.type === 'card.liked')), 'a live like')
  const lastSeen = first.lastEventId()
  first.close()

  // Likes while the app is away (the notification collapses and gets a new id each time).
  await call(card, 'PUT', `/api/v1/cards/${made.json.id as string}/like`, { token: fans[1] })
  await call(card, 'PUT', `/api/v1/cards/${made.json.id as string}/like`, { token: fans[2] })
  t.ok(await eventually(async () => ((await call(notification, 'GET', '/api/v1/notifications?limit=1', {
    token: owner.accessToken
  })).json?.items[0]?.data?.count ?? 0) === 3), 'the inbox holds the collapsed like of three')
  seen.length = 0
  const again = openNotificationStream({ ...options, lastEventId: lastSeen })
  t.teardown(() => { again.close() })
  t.ok(await eventually(() => seen.some((n) => (n.data as { count?: number }).count === 3)),
    'the resume brings the notification as it is now')
  t.ok(seen.every((n) => lastSeen === undefined || n.id > lastSeen), 'only what came after the last one seen')
  again.close()
})

t.test('Redis down: the producers keep answering, and every waiting event arrives once', async (t) => {
  const token = (await call(auth, 'POST', '/api/v1/auth/login', {
    body: { email: 'bus-user@example.test', password: 'bus user passphrase 1' }
  })).json.accessToken as string
  await redis.stop()
  const titles = Array.from({ length: 5 }, (_, i) => `Offline ${i}`)
  const ids: string[] = []
  for (const title of titles) {
    const res = await call(card, 'POST', '/api/v1/cards', { token, body: { title } })
    t.equal(res.status, 201, `${title} created while Redis is down`)
    ids.push(res.json.id as string)
  }
  await redis.start()
  t.ok(await eventually(async () => {
    const logged = await Promise.all(ids.map(async (id) => await auditOf(`subject=${id}`)))
    return logged.every((items) => items.length === 1)
  }, { tries: 150, intervalMs: 200 }), 'each card created while Redis was down reached audit')
  const logged = await Promise.all(ids.map(async (id) => await auditOf(`subject=${id}&type=holo.card.created`)))
  t.same(logged.map((items) => items.length), [1, 1, 1, 1, 1], 'once each')
  const verify = await call(audit, 'GET', '/api/v1/audit/verify', { token: admin })
  t.match(verify.json, { ok: true }, 'the chain verifies')
})
