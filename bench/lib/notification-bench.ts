// The notification issue's live-delivery figures, through the gateway of the bench stack:
//
// - notification-delivery: owners hold SSE streams open; other users like the owners' cards at a fixed rate
//   (200/s), one like per card, so each like makes a new notification. The first 10 s (1 s quick) warm the path
//   up and are not measured, as in the billing and event benches: the services have just started, and V8 keeps
//   compiling the like path's functions for about 20 s at this rate (`perf record` of a 24 s run, 2026-12-02: the
//   optimising compiler took 10–25 % of the card and notification services' CPU in the first 10 s, 2–8 % after
//   20 s). Latency is counted from the like's 2xx
//   (as its client saw it) to the `notification` event naming that card on the owner's stream: the whole path
//   of outbox, relay, stream, consumer, inbox commit, pub/sub and nginx.
// - notification-idle-streams: N idle SSE streams (10,000 in a full run) opened through nginx to the one
//   notification instance; the service's resident memory before and after, per stream, and every stream
//   still open at the end.
//
// Streams are plain HTTP/1.1 requests with the Authorization header (an SSE client that can send headers;
// browsers use a ticket instead, the same code path after authentication).
import http from 'node:http'
import { readFile } from 'node:fs/promises'
import { Redis } from 'ioredis'
import type { BenchUser } from './seed.js'
import { clock, percentile, round2, sleep } from './measure.js'
import { describeCpu, type CpuMeter } from './cpu.js'

export const NOTIFICATION_SCENARIOS = ['notification-delivery', 'notification-idle-streams'] as const

export interface NotificationRow {
  scenario: string
  /** The main figure, and its unit. */
  value: number
  unit: string
  p50Ms?: number
  p99Ms?: number
  maxMs?: number
  errors: number
  goal: string
  met: boolean
  detail: string
  /** notification-delivery: CPU per like by part of the stack, from the first like until all arrived. */
  cpuMsPerRequest?: Record<string, number>
}

export interface NotificationBenchOptions {
  gatewayUrl: string
  redisUrl: string
  /** The bench stack's EVENTS_STREAM_PREFIX (the likes' entries are read back for the breakdown). */
  streamPrefix: string
  /** The notification service's process id (its RSS is read from /proc). */
  notificationPid: number
  users: BenchUser[]
  selected: readonly string[]
  quick: boolean
  duration: number
  /** notification-idle-streams: how many streams (default 10,000; 1,000 with --quick). */
  streams?: number
  /** notification-delivery: likes per second (default 200, the rate; lower shows the unloaded cost). */
  likeRate?: number
  /** Measures CPU per like by part of the stack (services, their PostgreSQL backends, nginx, Redis). */
  cpu?: CpuMeter
  log: (msg: string) => void
}


/** An open SSE stream: each `notification` event's data is handed to `onNotification`. */
interface Stream { close: () => void, opened: Promise<void>, ended: boolean }

interface SeenNotification { createdAt: string, data?: { cardId?: string } }

function openStream (
  gatewayUrl: string, token: string, agent: http.Agent, onNotification?: (n: SeenNotification) => void
): Stream {
  const url = new URL('/api/v1/notifications/stream', gatewayUrl)
  const stream: Stream = { close: () => {}, opened: Promise.resolve(), ended: false }
  stream.opened = new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`stream: HTTP ${res.statusCode ?? 0}`))
        res.resume()
        return
      }
      resolve()
      res.setEncoding('utf8')
      let buffer = ''
      res.on('data', (chunk: string) => {
        if (onNotification === undefined) return
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (!block.includes('event: notification')) continue
          const data = block.split('\n').find((l) => l.startsWith('data: '))
          if (data !== undefined) onNotification(JSON.parse(data.slice(6)) as SeenNotification)
        }
      })
      res.on('close', () => { stream.ended = true })
      res.on('error', () => { stream.ended = true })
    })
    req.on('error', (err) => { stream.ended = true; reject(err) })
    stream.close = () => { req.destroy() }
  })
  return stream
}

/** Waits until a consumer group has read and acknowledged everything in a stream (up to a minute). */
async function drained (redisUrl: string, stream: string, group: string): Promise<void> {
  const redis = new Redis(redisUrl)
  try {
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      const groups = await redis.xinfo('GROUPS', stream) as unknown[][]
      const info = groups.map((g) => {
        const o: Record<string, unknown> = {}
        for (let i = 0; i < g.length; i += 2) o[String(g[i])] = g[i + 1]
        return o
      }).find((g) => g.name === group)
      if (info !== undefined && Number(info.lag ?? 1) === 0 && Number(info.pending ?? 1) === 0) return
      await sleep(100)
    }
    throw new Error(`${group} did not drain ${stream} within a minute`)
  } finally {
    redis.disconnect()
  }
}

async function rssMiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN)
  return round2(kb / 1024)
}

/** POSTs JSON as `token`; the parsed answer (throws on a non-2xx). */
async function postJson (url: URL, token: string, body: unknown, agent: http.Agent): Promise<{ id: string }> {
  return await new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST', agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 300) reject(new Error(`POST ${url.pathname}: ${res.statusCode ?? 0} ${text}`))
        else resolve(JSON.parse(text) as { id: string })
      })
    })
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}

/** Fresh public cards made by their owners through the API: nobody liked them, so each like makes a notification. */
async function freshCards (gatewayUrl: string, owners: BenchUser[], count: number, agent: http.Agent): Promise<Array<{ owner: BenchUser, cardId: string }>> {
  const made: Array<{ owner: BenchUser, cardId: string }> = []
  for (let i = 0; i < count; i += 32) {
    await Promise.all(Array.from({ length: Math.min(32, count - i) }, async (_, j) => {
      const owner = owners[(i + j) % owners.length] as BenchUser
      const card = await postJson(new URL('/api/v1/cards', gatewayUrl), owner.accessToken, {
        title: `Delivery ${i + j}`, description: 'Liked once under load', rarity: 'rare', tags: ['bench'],
        holo: { effect: 'galaxy', intensity: 0.5 }
      }, agent)
      made.push({ owner, cardId: card.id })
    }))
  }
  return made
}

async function delivery (o: NotificationBenchOptions): Promise<NotificationRow> {
  const rate = o.likeRate ?? 200
  const seconds = o.quick ? 3 : o.duration
  const warmupS = o.quick ? 1 : 10
  const warm = rate * warmupS
  const total = rate * seconds
  const owners = o.users.slice(0, Math.max(2, Math.floor(o.users.length / 3)))
  const likers = o.users.slice(owners.length)
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity })
  const cards = await freshCards(o.gatewayUrl, owners, warm + total, agent)
  const plan = cards.map((c, i) => ({ cardId: c.cardId, liker: likers[i % likers.length] as BenchUser }))
  // The notification service applies the creates' events before the likes start: the figure is delivery at a
  // steady 200 likes/s, not the time to work off a backlog of creates.
  await drained(o.redisUrl, `${o.streamPrefix}card`, 'notification')

  const okAt = new Map<string, number>()
  const seenAt = new Map<string, number>()
  const madeAt = new Map<string, number>()
  const streams = owners.map((u) => openStream(o.gatewayUrl, u.accessToken, agent, (n) => {
    const id = n.data?.cardId
    if (id === undefined || seenAt.has(id)) return
    seenAt.set(id, clock())
    madeAt.set(id, Date.parse(n.createdAt))
  }))
  await Promise.all(streams.map((s) => s.opened))
  await sleep(500)

  const likeAgent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  let errors = 0
  const like = async (p: { cardId: string, liker: BenchUser }, measured: boolean): Promise<void> => {
    await new Promise<void>((resolve) => {
      const req = http.request(new URL(`/api/v1/cards/${p.cardId}/like`, o.gatewayUrl), {
        method: 'PUT', agent: likeAgent, headers: { authorization: `Bearer ${p.liker.accessToken}` }
      }, (res) => {
        res.resume()
        res.on('end', () => {
          if (res.statusCode === undefined || res.statusCode >= 300) errors++
          else if (measured) okAt.set(p.cardId, clock())
          resolve()
        })
      })
      req.on('error', () => { errors++; resolve() })
      req.end()
    })
  }
  o.log(`notification-delivery: ${owners.length} owners streaming, ${total} likes at ${rate}/s after ${warm} unmeasured`)
  let cpuFrom: Awaited<ReturnType<CpuMeter['start']>> | undefined
  const t0 = clock()
  const sent: Array<Promise<void>> = []
  for (let i = 0; i < plan.length; i++) {
    // CPU is counted from the first measured like; what the warm-up left in flight is a steady state's share.
    if (i === warm) cpuFrom = await o.cpu?.start()
    const due = t0 + (i * 1000) / rate
    const wait = due - clock()
    if (wait > 1) await sleep(wait)
    sent.push(like(plan[i] as { cardId: string, liker: BenchUser }, i >= warm))
  }
  await Promise.all(sent)
  // Whatever has not arrived 10 s after the last like is counted lost.
  const deadline = clock() + 10_000
  while (clock() < deadline && [...okAt.keys()].some((id) => !seenAt.has(id))) await sleep(50)
  const cpu = cpuFrom === undefined ? undefined : await o.cpu?.perRequest(cpuFrom, okAt.size)
  for (const s of streams) s.close()
  agent.destroy()
  likeAgent.destroy()

  const latencies = [...okAt].flatMap(([id, at]) => {
    const seen = seenAt.get(id)
    // An event seen before its like's answer reached the client counts as 0 ms.
    return seen === undefined ? [] : [Math.max(0, seen - at)]
  }).sort((a, b) => a - b)
  const lost = okAt.size - latencies.length
  // Where the time goes: like answered → notification row made (bus and consumer) → event on the stream.
  const toRow = [...okAt].flatMap(([id, at]) => madeAt.has(id) ? [(madeAt.get(id) as number) - at] : []).sort((a, b) => a - b)
  // When each like's event entered the card stream (the relay's XADD: the entry id's milliseconds).
  const redis = new Redis(o.redisUrl)
  const addedAt = new Map<string, number>()
  try {
    const entries = await redis.xrange(`${o.streamPrefix}card`, Math.floor(t0 - 5_000), '+')
    for (const [entryId, fields] of entries) {
      const raw = fields[fields.indexOf('event') + 1]
      if (raw === undefined) continue
      const e = JSON.parse(raw) as { type: string, subject: string }
      if (e.type === 'holo.card.liked.v1' && okAt.has(e.subject)) addedAt.set(e.subject, Number(entryId.split('-')[0]))
    }
  } finally {
    redis.disconnect()
  }
  const toStreamEntry = [...okAt].flatMap(([id, at]) => addedAt.has(id) ? [(addedAt.get(id) as number) - at] : []).sort((a, b) => a - b)
  const toStream = [...seenAt].flatMap(([id, at]) => madeAt.has(id) ? [at - (madeAt.get(id) as number)] : []).sort((a, b) => a - b)
  const p99 = round2(percentile(latencies, 99, NaN))
  return {
    scenario: 'notification-delivery',
    value: round2(okAt.size / seconds),
    unit: 'likes/s delivered',
    p50Ms: round2(percentile(latencies, 50, NaN)),
    p99Ms: p99,
    maxMs: round2(latencies.at(-1) ?? NaN),
    errors: errors + lost,
    goal: 'p99 ≤ 300 ms at 200 likes/s',
    met: rate >= 200 && p99 <= 300 && errors + lost === 0,
    detail: `${okAt.size} likes answered 2xx, ${latencies.length} arrived on the owners' streams, ${lost} lost, ` +
      `${errors} likes failed; ${owners.length} owners, ${likers.length} likers; ${warmupS} s of warm-up before; ` +
      `latency from the like's 2xx to the event ` +
      `(2xx → on the bus p50 ${round2(percentile(toStreamEntry, 50, NaN))} / p99 ${round2(percentile(toStreamEntry, 99, NaN))} ms, ` +
      `2xx → notification made p50 ${round2(percentile(toRow, 50, NaN))} / p99 ${round2(percentile(toRow, 99, NaN))} ms, ` +
      `made → on the stream p50 ${round2(percentile(toStream, 50, NaN))} / p99 ${round2(percentile(toStream, 99, NaN))} ms)` +
      (cpu === undefined ? '' : `; CPU per like ${describeCpu(cpu)}`),
    cpuMsPerRequest: cpu
  }
}

async function idleStreams (o: NotificationBenchOptions): Promise<NotificationRow> {
  const n = o.streams ?? (o.quick ? 1_000 : 10_000)
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity })
  const before = await rssMiB(o.notificationPid)
  const streams: Stream[] = []
  let failed = 0
  const batch = 100
  o.log(`notification-idle-streams: opening ${n} streams through the gateway`)
  const t0 = clock()
  for (let i = 0; i < n; i += batch) {
    const opened = Array.from({ length: Math.min(batch, n - i) }, (_, j) => {
      const s = openStream(o.gatewayUrl, (o.users[(i + j) % o.users.length] as BenchUser).accessToken, agent)
      streams.push(s)
      return s.opened.catch(() => { failed++ })
    })
    await Promise.all(opened)
  }
  const openSeconds = (clock() - t0) / 1000
  // Settle: heartbeats and session checks run over the held streams meanwhile.
  await sleep(o.quick ? 3_000 : 10_000)
  const after = await rssMiB(o.notificationPid)
  const open = streams.filter((s) => !s.ended).length
  for (const s of streams) s.close()
  agent.destroy()
  const perStreamKiB = round2(((after - before) * 1024) / Math.max(1, open))
  const projected = round2(before + ((after - before) * 10_000) / Math.max(1, open))
  return {
    scenario: 'notification-idle-streams',
    value: open,
    unit: 'streams held',
    errors: failed + (n - failed - open),
    goal: '10,000 through nginx with the service under 1 GiB RSS',
    met: open >= 10_000 && after < 1024,
    detail: `${n} opened in ${round2(openSeconds)} s (${failed} refused), ${open} still open after the settle; ` +
      `service RSS ${before} MiB before, ${after} MiB with them (${perStreamKiB} KiB per stream; ` +
      `${projected} MiB at 10,000)`
  }
}

export async function runNotificationScenarios (o: NotificationBenchOptions): Promise<NotificationRow[]> {
  const rows: NotificationRow[] = []
  if (o.selected.includes('notification-delivery')) rows.push(await delivery(o))
  if (o.selected.includes('notification-idle-streams')) rows.push(await idleStreams(o))
  for (const r of rows) {
    o.log(`${r.scenario.padEnd(24)} ${r.value} ${r.unit}` +
      (r.p99Ms === undefined ? '' : `  p50 ${r.p50Ms ?? NaN} ms  p99 ${r.p99Ms} ms  max ${r.maxMs ?? NaN} ms`) +
      `  errors ${r.errors}  ${r.met ? 'goal met' : 'goal NOT met'}: ${r.detail}`)
  }
  return rows
}
