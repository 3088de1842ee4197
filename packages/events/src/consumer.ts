// The consumer runtime: reads producer streams through a consumer group,
// applies each event through the handler (effect once when given an
// idempotency store), retries failures with backoff, takes over the entries of
// consumers that died (XAUTOCLAIM) and moves events that keep failing, or that
// break the catalogue, to the group's dead-letter stream.
//
// Delivery is at least once: an entry is acknowledged only after its effect
// committed (or it was dead-lettered), so a crash in between redelivers it and
// the idempotency record makes the second delivery a no-op.
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { performance } from 'node:perf_hooks'
import type pg from 'pg'
import type { Redis } from 'ioredis'
import type { Registry } from 'prom-client'
import { deadLetterStream, groupStats, replayStream, type StreamGroupStats } from './admin.js'
import type { EventType } from './catalogue.js'
import { appliedStore, type AppliedStore, type EffectOnce } from './effect-once.js'
import { parseEvent, type HoloEvent } from './envelope.js'
import {
  collectedGauge, counter, errorMessage, exponential, histogram, pause, silentLogger, type EventsLogger
} from './observe.js'
import {
  busConnection, closeConnection, DEFAULT_STREAM_PREFIX, entries, isMissingGroup, streamsReply, type StreamEntry
} from './redis.js'

/** How an event reached the handler. */
export interface Delivery {
  /** The stream it was read from (the group's replay stream for a replayed dead letter). */
  stream: string
  entryId: string
  /** 1 on first delivery; Redis's delivery count after that. */
  attempt: number
}

/** The chain of events whose order key is null: applied before the others of its batch. */
const FIRST = '\u0000first'

export interface ConsumerOptions<T extends EventType = EventType> {
  /** The service's Redis client; the consumer duplicates it into two connections of its own. */
  redis: Redis
  /** Full stream names, prefix included: `events.card`. */
  streams: readonly string[]
  group: string
  /** Unique per instance; default host-pid-random. */
  consumerName?: string
  /**
   * Applies one event. With a PostgreSQL idempotency store `tx` is the
   * transaction that records the event: do the effect in it. Throwing means
   * "try again later".
   */
  handle: (event: HoloEvent<T>, tx: pg.PoolClient | undefined, delivery: Delivery) => Promise<void>
  /** Effect once: postgresApplied(pool), or a { has, record } store. Without it the handler must be idempotent. */
  applied?: EffectOnce | AppliedStore
  /** Only these types reach the handler; the others are acknowledged unread. */
  types?: readonly T[]
  /** Where a group created now starts: '0' (everything retained, the default) or '$' (only what comes next). */
  startId?: '0' | '$'
  /** Entries read and not yet applied, at most (each read asks for the room left); default 100. */
  batchSize?: number
  /** Workers: chains of different order keys applied side by side (one key's in order); default 1. */
  concurrency?: number
  /**
   * Events with the same key are applied one after another, in stream order; default the subject. A consumer
   * whose effects lock something else (the recipient of a notification) keys by that, so side-by-side workers
   * never wait on each other's locks. `null`: the event is applied alone (no keyed chain runs meanwhile), with the
   * other null-keyed events read by then, in stream order, before any keyed chain not yet started (what the
   * others read: directories of names, titles).
   */
  orderKey?: (event: HoloEvent<T>) => string | null
  /**
   * A worker's transaction takes no further chain once it applied this many events (default: no limit but
   * batchSize; it also ends when no other chain is ready). Smaller: effects commit, and are seen, sooner; larger:
   * fewer commits.
   */
  transactionEvents?: number
  /**
   * After a read that brought fewer entries than it asked for, wait this long before reading again, so that the
   * next read gathers what arrived meanwhile: more events per transaction, fewer commits per event, for a
   * consumer whose effects may lag a little (analytics, audit). Default 0: read again at once. stop() does not
   * wait for it.
   */
  lingerMs?: number
  /** Longest wait of a blocking read; default 2 s (stop() does not wait for it). */
  blockMs?: number
  /** Attempts before an event is dead-lettered; default 5. */
  maxAttempts?: number
  /** Wait before attempt n + 1 after n failed, in ms; default 500 ms doubling up to 30 s. */
  backoff?: (attempt: number) => number
  /** Entries another consumer left unacknowledged this long are taken over; default 30 s (keep above a slow effect). */
  claimIdleMs?: number
  /** Prefix of the dead-letter and replay streams; default `events.`. */
  streamPrefix?: string
  /** Default `<prefix>dead.<group>`. */
  deadLetterStream?: string
  log?: EventsLogger
  metrics?: Registry
}

export interface Consumer {
  readonly name: string
  /** Applies what it has read (effects and acknowledgements), then closes the consumer's connections. */
  stop: () => Promise<void>
}

interface Item { stream: string, entry: StreamEntry, attempt: number }
type Outcome = 'applied' | 'duplicate' | 'skipped' | 'retry' | 'dead'

let consumers = 0

/**
 * A PostgreSQL error that a batch's transaction may have caused rather than the event it was applying: a
 * conflict with another transaction (class 40: deadlock, serialization failure) or a statement in a transaction
 * already aborted by an earlier, caught error.
 */
function batchConflict (err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code
  return typeof code === 'string' && (code.startsWith('40') || code === '25P02')
}

export async function startConsumer<T extends EventType = EventType> (options: ConsumerOptions<T>): Promise<Consumer> {
  const log = options.log ?? silentLogger
  const { group } = options
  const name = options.consumerName ?? `${hostname()}-${process.pid}-${++consumers}-${randomBytes(2).toString('hex')}`
  const prefix = options.streamPrefix ?? DEFAULT_STREAM_PREFIX
  const dead = options.deadLetterStream ?? deadLetterStream(prefix, group)
  const replay = replayStream(prefix, group)
  const streams = [...new Set([...options.streams, replay])]
  const batchSize = options.batchSize ?? 100
  const blockMs = options.blockMs ?? 2000
  const lingerMs = Math.max(0, options.lingerMs ?? 0)
  const maxAttempts = options.maxAttempts ?? 5
  const backoff = options.backoff ?? exponential(500, 30_000)
  const claimIdleMs = options.claimIdleMs ?? 30_000
  // Orphans are looked for a few times per claim period, at most every 5 s.
  const sweepMs = Math.min(5000, Math.max(50, Math.floor(claimIdleMs / 4)))
  const concurrency = Math.max(1, options.concurrency ?? 1)
  const orderKey = options.orderKey ?? ((event: HoloEvent<T>) => event.subject)
  const transactionEvents = Math.max(1, options.transactionEvents ?? Number.POSITIVE_INFINITY)
  const types = options.types === undefined ? undefined : new Set<string>(options.types)
  const effectOnce = options.applied === undefined ? undefined
    : 'run' in options.applied ? options.applied : appliedStore(options.applied)

  const cmd = await busConnection(options.redis, `holo-events-${group}`)
  // Blocking reads get their own connection, without the command timeout (a
  // client-side guard of BLOCK + 5 s instead).
  const blocking = await busConnection(options.redis, `holo-events-${group}-read`, {
    commandTimeout: undefined, blockingTimeout: 1, blockingTimeoutGrace: 5000
  })
  let blockingId: string | undefined
  blocking.on('close', () => { blockingId = undefined })

  const stopping = new AbortController()
  const { signal } = stopping
  const unregister: Array<() => void> = []

  let consumed: ((type: string, outcome: Outcome) => void) | undefined
  let timed: ((type: string, seconds: number, eventTime: string) => void) | undefined
  if (options.metrics !== undefined) {
    const registry = options.metrics
    const outcomes = counter(registry, 'events_consumed_total',
      'Events a consumer group handled, by type and outcome (applied, duplicate, skipped, retry, dead)',
      ['group', 'type', 'outcome'] as const)
    const processing = histogram(registry, 'events_processing_seconds',
      'Time to apply one event (the handler and its idempotency record)', ['group', 'type'] as const)
    const endToEnd = histogram(registry, 'events_end_to_end_seconds',
      'From the time an event happened to its effect committing in this group', ['group', 'type'] as const)
    consumed = (type, outcome) => { outcomes.inc({ group, type, outcome }) }
    timed = (type, seconds, eventTime) => {
      processing.observe({ group, type }, seconds)
      const t = Date.parse(eventTime)
      if (!Number.isNaN(t)) endToEnd.observe({ group, type }, Math.max(0, (Date.now() - t) / 1000))
    }
    // Read from Redis at scrape time (the group's figures, the same from every instance); one read serves the
    // three gauges of a scrape.
    let last: { at: number, value: Promise<StreamGroupStats[]> } | undefined
    const stats = async (): Promise<StreamGroupStats[]> => {
      if (last === undefined || Date.now() - last.at > 1000) {
        last = { at: Date.now(), value: groupStats(cmd, group, streams) }
      }
      return await last.value
    }
    const perStream = (value: (s: StreamGroupStats) => number | null) => async () =>
      (await stats()).flatMap((s) => {
        const v = value(s)
        return v === null ? [] : [{ labels: { group, stream: s.stream }, value: v }]
      })
    unregister.push(
      collectedGauge(registry, 'events_consumer_lag', 'Entries not yet delivered to the group',
        ['group', 'stream'] as const, perStream((s) => s.lag)),
      collectedGauge(registry, 'events_consumer_pending', 'Entries delivered to the group and not yet acknowledged',
        ['group', 'stream'] as const, perStream((s) => s.pending)),
      collectedGauge(registry, 'events_stream_length', 'Entries in a stream', ['stream'] as const,
        async () => (await stats()).map((s) => ({ labels: { stream: s.stream }, value: s.length }))),
      collectedGauge(registry, 'events_dead_letters', 'Events in the group\'s dead-letter stream', ['group'] as const,
        async () => [{ labels: { group }, value: await cmd.xlen(dead) }])
    )
  }

  const ensureGroups = async (): Promise<void> => {
    for (const stream of streams) {
      try {
        // Replays are only ever for this group: read them all, whenever the group was made.
        await cmd.call('XGROUP', 'CREATE', stream, group, stream === replay ? '0' : options.startId ?? '0', 'MKSTREAM')
      } catch (err) {
        if (!errorMessage(err).includes('BUSYGROUP')) throw err
      }
    }
  }

  const deadLetter = async (item: Item, reason: string, id?: string, type?: string): Promise<void> => {
    const f = item.entry.fields
    const fields = [
      'event', f.event ?? '',
      // A replayed entry keeps pointing at where the event was first published.
      'stream', f.originStream ?? item.stream,
      'entry', f.originEntry ?? item.entry.id,
      'group', group,
      'consumer', name,
      'attempts', String(item.attempt),
      'error', reason.slice(0, 4000),
      'failedAt', new Date().toISOString(),
      ...(id === undefined ? [] : ['eventId', id]),
      ...(type === undefined ? [] : ['type', type])
    ]
    const replies = await cmd.multi().xadd(dead, '*', ...fields).xack(item.stream, group, item.entry.id).exec()
    if (replies === null) throw new Error('Redis discarded the dead-letter transaction')
    for (const [err] of replies) if (err !== null) throw err
    log.warn({ group, stream: item.stream, entry: item.entry.id, eventId: id, type, attempts: item.attempt, reason },
      'event dead-lettered')
  }

  // Local hint of the earliest retry due; Redis's pending list is the truth.
  let nextRetry = Number.POSITIVE_INFINITY

  const deliveryOf = (item: Item): Delivery => ({ stream: item.stream, entryId: item.entry.id, attempt: item.attempt })

  /** The outcome decided before the effect: a type this consumer does not read, or an entry delivered too often. */
  const settledBefore = async (item: Item, event: HoloEvent<T>): Promise<Outcome | undefined> => {
    if (types !== undefined && !types.has(event.type)) return 'skipped'
    if (item.attempt > maxAttempts) {
      // Delivered that often without a recorded failure: its consumers died on it.
      await deadLetter(item, `delivered ${item.attempt} times without being acknowledged`, event.id, event.type)
      return 'dead'
    }
    return undefined
  }

  /** A failed attempt: retried after its backoff, or dead-lettered after the last one. */
  const failed = async (item: Item, event: HoloEvent<T>, err: unknown): Promise<Outcome> => {
    if (item.attempt >= maxAttempts) {
      await deadLetter(item, errorMessage(err), event.id, event.type)
      return 'dead'
    }
    nextRetry = Math.min(nextRetry, Date.now() + backoff(item.attempt))
    log.warn({ group, eventId: event.id, type: event.type, attempt: item.attempt, err: errorMessage(err) },
      'event failed, will retry')
    return 'retry'
  }

  /** One event in a transaction of its own (or without one, by the store or the handler). */
  const handleOne = async (item: Item, event: HoloEvent<T>): Promise<Outcome> => {
    const early = await settledBefore(item, event)
    if (early !== undefined) return early
    const delivery = deliveryOf(item)
    const started = performance.now()
    try {
      let ran = true
      if (effectOnce === undefined) await options.handle(event, undefined, delivery)
      else ran = await effectOnce.run(group, event.id, async (tx) => { await options.handle(event, tx, delivery) })
      if (ran) timed?.(event.type, (performance.now() - started) / 1000, event.time)
      return ran ? 'applied' : 'duplicate'
    } catch (err) {
      return await failed(item, event, err)
    }
  }

  const batchEffects = effectOnce?.batch?.bind(effectOnce)

  interface Job { item: Item, event: HoloEvent<T>, done: boolean }
  interface Chain { key: string, jobs: Job[] }

  // The pipeline. Entries are read as soon as there is room (up to batchSize read and not yet settled) and queued
  // by order key; a worker whose transaction ends takes the next ready chains at once, so no event waits for a
  // whole read batch to finish, nor for a slow chain of another key. One key's chain runs in one transaction at a
  // time, in stream order. Null-keyed events are a barrier: keyed chains taken after them wait until they are
  // applied, alone, in one transaction of their own (they are what the keyed ones read).
  const keyed = new Map<string, Job[]>()
  const running = new Set<string>()
  let first: Job[] = []
  let firstRunning = false
  /** The reader has stopped (stop()): workers end once nothing is left. */
  let readerDone = false
  let transactions = 0
  /** Entries read (or claimed) and not yet settled: the read's room. */
  let unsettled = 0
  /** Entries of this consumer not acknowledged yet (XPENDING shows them; retries and claims must skip them). */
  const held = new Set<string>()
  const heldKey = (item: Item): string => `${item.stream}\u0000${item.entry.id}`
  let signalled: (() => void) | undefined
  let pulse = new Promise<void>((resolve) => { signalled = resolve })
  /** Wakes every worker and the reader; they look at the queue again. */
  const notify = (): void => {
    const resolve = signalled
    pulse = new Promise<void>((r) => { signalled = r })
    resolve?.()
  }

  // Acknowledgements go in one pipeline per moment: one in flight, what settles meanwhile goes in the next.
  let acks = new Map<string, string[]>()
  let acking: Promise<void> | undefined
  const flushAcks = async (): Promise<void> => {
    while (acks.size > 0) {
      const batch = acks
      acks = new Map()
      const pipeline = cmd.pipeline()
      for (const [stream, ids] of batch) pipeline.xack(stream, group, ...ids)
      try {
        const replies = await pipeline.exec()
        for (const [err] of replies ?? []) if (err !== null) throw err
      } catch (err) {
        // Still pending: redelivered to this consumer later, a duplicate its idempotency record skips.
        log.warn({ group, err: errorMessage(err) }, 'consumer: acknowledgements failed, the events come again')
      }
      for (const [stream, ids] of batch) for (const id of ids) held.delete(`${stream}\u0000${id}`)
    }
    acking = undefined
  }
  const settle = (job: Job, outcome: Outcome): void => {
    if (job.done) return
    job.done = true
    unsettled--
    consumed?.(job.event.type, outcome)
    if (outcome === 'applied' || outcome === 'duplicate' || outcome === 'skipped') {
      const { stream, entry } = job.item
      acks.set(stream, [...(acks.get(stream) ?? []), entry.id])
      acking ??= flushAcks()
    } else held.delete(heldKey(job.item))
    notify()
  }
  /** Jobs a failure outside PostgreSQL (Redis, while dead-lettering) left: pending, retried after their backoff. */
  const abandon = (jobs: Job[]): void => {
    for (const job of jobs) {
      if (job.done) continue
      job.done = true
      unsettled--
      held.delete(heldKey(job.item))
      nextRetry = Math.min(nextRetry, Date.now() + backoff(job.item.attempt))
    }
    notify()
  }
  const single = async (job: Job): Promise<void> => {
    // Settled already (skipped or dead-lettered before its batch failed): nothing left to do.
    if (job.done) return
    settle(job, await handleOne(job.item, job.event))
  }

  /** Queues entries read, claimed or due for a retry. */
  const dispatch = async (items: Item[]): Promise<void> => {
    for (const item of items) {
      const raw = item.entry.fields.event
      const parsed = raw === undefined
        ? { ok: false as const, reason: 'the entry has no event field' }
        : parseEvent(raw)
      if (!parsed.ok) {
        // Retrying cannot mend an event that breaks the catalogue.
        await deadLetter(item, parsed.reason, parsed.id, parsed.type)
        // Not the claimed type as a label: anyone who can write to the stream could invent those.
        consumed?.('invalid', 'dead')
        continue
      }
      const event = parsed.event as HoloEvent<T>
      const job: Job = { item, event, done: false }
      held.add(heldKey(item))
      unsettled++
      if (types !== undefined && !types.has(event.type)) {
        // Not read by this consumer: acknowledged at once, without a place in a chain or a transaction.
        settle(job, 'skipped')
        continue
      }
      const key = orderKey(event)
      if (key === null) first.push(job)
      else {
        const chain = keyed.get(key)
        if (chain === undefined) keyed.set(key, [job])
        else chain.push(job)
      }
    }
    notify()
  }

  /** The next chain a worker may take: the null-keyed events once nothing else runs, else a key not running. */
  const take = (): Chain | undefined => {
    if (firstRunning) return undefined
    if (first.length > 0) {
      if (transactions > 0) return undefined
      const jobs = first
      first = []
      firstRunning = true
      return { key: FIRST, jobs }
    }
    for (const [key, jobs] of keyed) {
      if (running.has(key)) continue
      keyed.delete(key)
      running.add(key)
      return { key, jobs }
    }
    return undefined
  }
  const release = (chains: Chain[]): void => {
    for (const c of chains) {
      if (c.key === FIRST) firstRunning = false
      else running.delete(c.key)
    }
    notify()
  }

  /**
   * Keyed chains taken back unstarted after their batch failed: queued again, ahead of what came for their key
   * since (the null-keyed chain is only ever a batch's first, never taken back).
   */
  const requeue = (chains: Chain[]): void => {
    for (const c of chains) {
      keyed.set(c.key, [...c.jobs, ...keyed.get(c.key) ?? []])
      running.delete(c.key)
    }
    notify()
  }

  /**
   * Chains in one transaction (one COMMIT for all their events), in rounds: the ready chains are taken while the
   * transaction holds fewer than `transactionEvents` events (the null-keyed chain always alone), their events are
   * recorded in applied_events in one statement (when the store can), then applied chain by chain; then the
   * chains that became ready meanwhile. When an event fails, the transaction rolls back: the events it had
   * applied are applied again one transaction each, the failure counts as that event's attempt, the rest of its
   * chain follows one by one, and the round's chains not started yet go back to the queue. Outcomes (metrics,
   * acknowledgements) are settled only after the commit.
   */
  const applyBatch = async (batch: NonNullable<typeof batchEffects>, start: Chain, taken: Chain[]): Promise<void> => {
    const ran: Array<{ job: Job, applied: boolean, seconds: number }> = []
    let current: { chain: Job[], index: number } | undefined
    let failing: { job: Job, err: unknown } | undefined
    let notPostgres: unknown
    /** The round's chains, and how many of them were started. */
    let round: Chain[] = [start]
    let started = 0
    const began = performance.now()
    const limit = Math.min(transactionEvents, batchSize)
    /** More ready chains while the transaction's events stay under the limit. */
    const more = (events: number): Chain[] => {
      const chains: Chain[] = []
      for (let n = events; n < limit;) {
        const chain = take()
        if (chain === undefined) break
        taken.push(chain)
        chains.push(chain)
        n += chain.jobs.length
      }
      return chains
    }
    try {
      await batch(group, async (run, recordAhead) => {
        if (start.key !== FIRST) round.push(...more(start.jobs.length))
        while (round.length > 0) {
          // Settled before the transaction's work: a type this consumer skips, an entry delivered too often.
          const ids: string[] = []
          for (const chain of round) {
            for (const job of chain.jobs) {
              let early: Outcome | undefined
              try {
                early = await settledBefore(job.item, job.event)
              } catch (err) {
                notPostgres = err
                throw err
              }
              if (early === undefined) ids.push(job.event.id)
              else settle(job, early)
            }
          }
          if (recordAhead !== undefined && ids.length > 1) await recordAhead(ids)
          for (const [c, chain] of round.entries()) {
            started = c + 1
            for (const [index, job] of chain.jobs.entries()) {
              current = { chain: chain.jobs, index }
              if (job.done) continue
              const delivery = deliveryOf(job.item)
              const t0 = performance.now()
              try {
                const applied = await run(job.event.id, async (tx) => { await options.handle(job.event, tx, delivery) })
                ran.push({ job, applied, seconds: (performance.now() - t0) / 1000 })
              } catch (err) {
                failing = { job, err }
                throw err
              }
            }
          }
          current = undefined
          if (start.key === FIRST) break
          round = more(ran.length)
          started = 0
        }
      })
    } catch (err) {
      // Redis failed while dead-lettering: leave the entries pending, as the per-event path does.
      if (notPostgres !== undefined) throw notPostgres
      // The first chain is not taken back: when it did not start, it is applied event by event below.
      const unstarted = round.slice(started).filter((c) => c !== start)
      for (const c of unstarted) taken.splice(taken.indexOf(c), 1)
      requeue(unstarted)
      for (const { job } of ran) await single(job)
      if (failing !== undefined) {
        const { job } = failing
        // A conflict with another transaction (deadlock, serialization) or a statement of an earlier event that
        // failed silently may be the batch's doing, not the event's: it gets a transaction of its own at once.
        if (batchConflict(failing.err)) await single(job)
        else settle(job, await failed(job.item, job.event, failing.err))
      }
      // The rest of the failing chain, or (nothing was started: the connection, BEGIN or the record failed) the
      // first chain, event by event, so that the attempts count and back off as they do without batches.
      const { chain, index } = current ?? { chain: start.jobs, index: -1 }
      for (const job of chain.slice(index + 1)) await single(job)
      return
    }
    // Committed: each applied event's own time plus its share of BEGIN, the records and COMMIT.
    const own = ran.reduce((sum, r) => sum + r.seconds, 0)
    const share = Math.max(0, (performance.now() - began) / 1000 - own) / Math.max(1, ran.length)
    for (const { job, applied, seconds } of ran) {
      if (applied) timed?.(job.event.type, seconds + share, job.event.time)
      settle(job, applied ? 'applied' : 'duplicate')
    }
  }

  /** Takes ready chains until the consumer stops and nothing it read is left. */
  const worker = async (): Promise<void> => {
    for (;;) {
      const wake = pulse
      const chain = take()
      if (chain === undefined) {
        if (readerDone && unsettled === 0) return
        await wake
        continue
      }
      transactions++
      const taken = [chain]
      try {
        if (batchEffects !== undefined) await applyBatch(batchEffects, chain, taken)
        else for (const job of chain.jobs) await single(job)
      } catch (err) {
        log.warn({ group, err: errorMessage(err) }, 'consumer: Redis failed while applying, the events wait')
      } finally {
        // Whatever a failure left unsettled stays pending (retried after its backoff).
        abandon(taken.flatMap((c) => c.jobs))
        transactions--
        release(taken)
      }
    }
  }
  const workers = Array.from({ length: concurrency }, worker)

  /** This consumer's own failed entries whose backoff has passed, claimed again (which counts the attempt). */
  const retryOwn = async (): Promise<void> => {
    nextRetry = Number.POSITIVE_INFINITY
    for (const stream of streams) {
      const raw = await cmd.call('XPENDING', stream, group, 'IDLE', String(backoff(1)), '-', '+', String(batchSize),
        name)
      // Entries in this consumer's pipeline (read, being applied or acknowledged) are not due.
      const due = (Array.isArray(raw) ? raw as unknown[][] : [])
        .map(([id, , idle, count]) => ({ id: String(id), idle: Number(idle), count: Number(count) }))
        .filter((p) => !held.has(`${stream}\u0000${p.id}`))
      const ready = due.filter((p) => p.idle >= backoff(p.count))
      for (const p of due) {
        if (p.idle < backoff(p.count)) nextRetry = Math.min(nextRetry, Date.now() + backoff(p.count) - p.idle)
      }
      if (ready.length === 0) continue
      const pipeline = cmd.pipeline()
      // The idle condition makes the claim fail if another consumer took the entry meanwhile.
      for (const p of ready) pipeline.call('XCLAIM', stream, group, name, String(backoff(p.count)), p.id)
      const replies = await pipeline.exec()
      const items: Item[] = []
      ready.forEach((p, i) => {
        const [err, claimed] = replies?.[i] ?? [null, null]
        if (err !== null) return
        for (const entry of entries(claimed)) items.push({ stream, entry, attempt: p.count + 1 })
      })
      if (items.length > 0) await dispatch(items)
    }
  }

  const cursors = new Map<string, string>()
  /** Entries left pending by consumers that went quiet (crashed, killed, partitioned). Returns how many. */
  const claimOrphans = async (): Promise<number> => {
    let total = 0
    for (const stream of streams) {
      const raw = await cmd.call('XAUTOCLAIM', stream, group, name, String(claimIdleMs), cursors.get(stream) ?? '0-0',
        'COUNT', String(batchSize)) as unknown[]
      cursors.set(stream, String(raw[0] ?? '0-0'))
      const all = entries(raw[1])
      total += all.length
      // One of this consumer's own entries that is still being applied is not an orphan.
      const claimed = all.filter((e) => !held.has(`${stream}\u0000${e.id}`))
      if (claimed.length === 0) continue
      // XAUTOCLAIM does not say how often an entry was delivered; XPENDING does.
      const pipeline = cmd.pipeline()
      for (const e of claimed) pipeline.call('XPENDING', stream, group, e.id, e.id, '1')
      const counts = await pipeline.exec()
      const items = claimed.map((entry, i) => {
        const row = (counts?.[i]?.[1] as unknown[][] | undefined)?.[0]
        return { stream, entry, attempt: Math.max(1, Number(row?.[3] ?? 1)) }
      })
      log.info({ group, stream, count: items.length }, 'took over events another consumer left pending')
      await dispatch(items)
    }
    return total
  }

  const readNew = async (block: number, count: number): Promise<Item[]> => {
    blockingId ??= String(await blocking.call('CLIENT', 'ID'))
    reading = true
    try {
      if (signal.aborted) return []
      const raw = await blocking.call('XREADGROUP', 'GROUP', group, name, 'COUNT', String(count),
        'BLOCK', String(block), 'STREAMS', ...streams, ...streams.map(() => '>'))
      return streamsReply(raw)
        .flatMap(({ stream, entries: list }) => list.map((entry) => ({ stream, entry, attempt: 1 })))
    } finally {
      reading = false
    }
  }

  let reading = false
  let groupsReady = false
  try {
    await ensureGroups()
    groupsReady = true
  } catch (err) {
    log.warn({ group, err: errorMessage(err) }, 'consumer: Redis unavailable at start, retrying')
  }

  const reader = (async () => {
    let failures = 0
    let nextSweep = 0
    while (!signal.aborted) {
      try {
        if (!groupsReady) {
          await ensureGroups()
          groupsReady = true
        }
        const now = Date.now()
        if (now >= nextSweep) {
          const claimed = await claimOrphans()
          await retryOwn()
          // A full claim means more may be waiting: look again at once.
          nextSweep = claimed >= batchSize ? 0 : Date.now() + sweepMs
        } else if (now >= nextRetry) {
          await retryOwn()
        }
        if (signal.aborted) break
        if (unsettled >= batchSize) {
          // No room: read again once some of what was read is applied.
          await pulse
          continue
        }
        const wait = Math.min(blockMs, nextSweep - Date.now(), nextRetry - Date.now())
        const count = batchSize - unsettled
        const items = await readNew(Math.max(10, Math.ceil(wait)), count)
        if (items.length > 0) await dispatch(items)
        if (lingerMs > 0 && items.length > 0 && items.length < count) await pause(lingerMs, signal)
        if (failures > 0) log.info({ group, after: failures }, 'consumer: reading again')
        failures = 0
      } catch (err) {
        if (signal.aborted) break
        // Redis lost the stream (a restart without persistence): make the group again.
        if (isMissingGroup(err)) groupsReady = false
        failures++
        if (failures === 1) log.warn({ group, err: errorMessage(err) }, 'consumer: Redis failed, retrying')
        await pause(Math.min(5000, 100 * 2 ** Math.min(failures, 6)), signal)
      }
    }
    readerDone = true
    notify()
  })()

  return {
    name,
    stop: async () => {
      if (signal.aborted) return
      stopping.abort()
      for (const u of unregister) u()
      // Ends a blocking read at once, as if it timed out: nothing read is dropped. The read may reach Redis
      // after the first UNBLOCK, hence a few tries.
      for (let i = 0; i < 20 && reading && blockingId !== undefined; i++) {
        await cmd.call('CLIENT', 'UNBLOCK', blockingId).catch(() => {})
        if (reading) await new Promise((resolve) => setTimeout(resolve, 25))
      }
      notify()
      await reader
      // What was read is applied and acknowledged before the connections close.
      await Promise.all(workers)
      await acking
      await Promise.all([closeConnection(cmd), closeConnection(blocking)])
    }
  }
}
