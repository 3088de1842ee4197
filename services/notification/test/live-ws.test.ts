// Live delivery over WebSocket: the same semantics as SSE (resume, tickets, revocation, reauth), with a real
// listening server and the `ws` client, real Redis and PostgreSQL.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import WebSocket from 'ws'
import { makeEvent } from '@holo/events'
import { revokedSessionKey } from '@holo/shared'
import { buildTestApp, eventually, type TestApp, type TestUser } from './helper.js'

interface WsClient {
  socket: WebSocket
  messages: Array<Record<string, unknown>>
  closed: () => { code: number, reason: string } | null
  send: (m: unknown) => void
}

/** Opens a WebSocket; rejects with the HTTP status when the upgrade is refused. */
async function openWs (url: string, headers: Record<string, string> = {}): Promise<WsClient> {
  const socket = new WebSocket(url, { headers })
  const messages: Array<Record<string, unknown>> = []
  let closed: { code: number, reason: string } | null = null
  socket.on('message', (data) => { messages.push(JSON.parse(String(data)) as Record<string, unknown>) })
  socket.on('close', (code, reason) => { closed = { code, reason: reason.toString() } })
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => { resolve() })
    socket.once('unexpected-response', (_req, res) => { reject(new Error(`status ${res.statusCode ?? 0}`)) })
    socket.once('error', reject)
  })
  return { socket, messages, closed: () => closed, send: (m) => { socket.send(JSON.stringify(m)) } }
}

const like = (owner: TestUser) => makeEvent('holo.card.liked.v1', {
  subject: randomUUID(), actorId: randomUUID(), data: { ownerId: owner.id, likeCount: 1 }
})
const ofType = (c: WsClient, type: string): Array<Record<string, unknown>> => c.messages.filter((m) => m.type === type)
const env = { NOTIFICATIONS_HEARTBEAT_MS: '200', NOTIFICATIONS_SESSION_CHECK_MS: '250' }
const wsBase = async (ta: TestApp): Promise<string> =>
  (await ta.app.listen({ port: 0, host: '127.0.0.1' })).replace(/^http/, 'ws') + '/api/v1/notifications/ws'

t.test('WebSocket: resume message, missed notifications in order, then live; ping; closing the app', async (t) => {
  const ta = await buildTestApp(t, env)
  const url = await wsBase(ta)
  const owner = ta.user()
  const first = await openWs(url, owner.headers)
  await eventually(() => ofType(first, 'unread').length === 1, 'the unread count (no resume: after the wait)')
  await ta.publish(like(owner))
  await eventually(() => ofType(first, 'notification').length === 1, 'the first notification')
  const seen = ofType(first, 'notification')[0]!.id as string
  t.equal((ofType(first, 'notification')[0]!.notification as { id: string }).id, seen)
  first.socket.close()

  const heard = await ta.listen(owner.id)
  await ta.publish(...Array.from({ length: 5 }, () => like(owner)))
  await ta.drained()
  await eventually(() => heard.filter((m) => m.kind === 'notification').length === 5, 'the messages published')
  const expected = (await ta.app.notifications.repository.since(owner.id, seen, 100)).map((n) => n.id)
  t.equal(expected.length, 5)

  const ws = await openWs(url, owner.headers)
  ws.send({ type: 'resume', lastEventId: seen })
  await eventually(() => ofType(ws, 'notification').length === 5, 'the missed ones')
  t.same(ws.messages[0], { type: 'unread', count: 6 }, 'the unread count first')
  t.same(ofType(ws, 'notification').map((m) => m.id), expected, 'exactly the missed ones, in order')
  await ta.publish(like(owner))
  await eventually(() => ofType(ws, 'notification').length === 6, 'the live one')
  const ids = ofType(ws, 'notification').map((m) => m.id as string)
  t.equal(new Set(ids).size, 6, 'no duplicates')
  ws.send({ type: 'ping' })
  await eventually(() => ofType(ws, 'pong').length === 1, 'a pong')

  // ?lastEventId= works too (no wait for a resume message)
  const q = await openWs(`${url}?lastEventId=${expected[4] as string}`, owner.headers)
  await eventually(() => ofType(q, 'notification').length === 1, 'the one after')
  t.equal(ofType(q, 'notification')[0]!.id, ids[5])

  await ta.app.close()
  await eventually(() => ws.closed() !== null && q.closed() !== null, 'the sockets to close')
  t.equal(ws.closed()?.code, 1001, 'closing the app closes with 1001')
})

t.test('WebSocket: no auth, tickets, bad messages, late resume', async (t) => {
  const ta = await buildTestApp(t, env)
  const url = await wsBase(ta)
  const owner = ta.user()
  await t.rejects(openWs(url), /status 401/, 'no token, no ticket')
  await t.rejects(openWs(`${url}?ticket=${'y'.repeat(43)}`), /status 401/, 'an unknown ticket')
  const base = url.replace(/^ws/, 'http').replace('/ws', '')
  const { ticket } = await (await fetch(`${base}/stream-ticket`, { method: 'POST', headers: owner.headers }))
    .json() as { ticket: string }
  const byTicket = await openWs(`${url}?ticket=${ticket}`)
  byTicket.send({ type: 'resume', lastEventId: randomUUID() })
  await eventually(() => ofType(byTicket, 'unread').length === 1, 'the ticket stream')
  await t.rejects(openWs(`${url}?ticket=${ticket}`), /status 401/, 'a ticket is single use')
  byTicket.send({ type: 'resume', lastEventId: randomUUID() })
  await eventually(() => byTicket.closed() !== null, 'a late resume to close the socket')
  t.equal(byTicket.closed()?.code, 1008)
  t.match(byTicket.closed()?.reason, /first message/)

  for (const [bad, reason] of [['not json', /JSON/], [{ type: 'what' }, /unknown/],
    [{ type: 'resume', lastEventId: 'nope' }, /lastEventId/]] as const) {
    const ws = await openWs(url, owner.headers)
    ws.socket.send(typeof bad === 'string' ? bad : JSON.stringify(bad))
    await eventually(() => ws.closed() !== null, 'the socket to close')
    t.equal(ws.closed()?.code, 1008)
    t.match(ws.closed()?.reason, reason)
  }
})

t.test('WebSocket: a revoked session is closed; an expired token gets reauth', async (t) => {
  const ta = await buildTestApp(t, env)
  const url = await wsBase(ta)
  const sid = randomUUID()
  const userId = randomUUID()
  const ws = await openWs(url, { authorization: `Bearer ${ta.issuer.token({ sub: userId, sid })}` })
  await eventually(() => ws.messages.length > 0, 'the stream to start')
  await ta.deps.redis.set(revokedSessionKey(sid), '1', 'EX', 60)
  await eventually(() => ws.closed() !== null, 'the revoked socket to close', 2500)
  t.same(ws.closed(), { code: 1008, reason: 'session revoked' })

  const short = await openWs(url, { authorization: `Bearer ${ta.issuer.token({ sub: userId, expiresIn: 2 })}` })
  await eventually(() => short.closed() !== null, 'the expired socket to close', 6000)
  t.same(short.messages.at(-1), { type: 'reauth' })
  t.equal(short.closed()?.code, 1000)
})
