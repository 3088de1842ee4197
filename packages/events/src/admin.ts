// What an operator needs to see and mend: per consumer group, its lag, its
// pending entries and its dead letters; dead letters listed and replayed. The
// audit service serves these on /api/v1/events.
import type { Redis } from 'ioredis'
import { PRODUCERS } from './catalogue.js'
import { DEFAULT_STREAM_PREFIX, entries, isMissingKey, record, type StreamEntry } from './redis.js'

/** Where a group's failed events go after their last attempt. */
export function deadLetterStream (prefix: string, group: string): string {
  return `${prefix}dead.${group}`
}

/** Where replayed dead letters wait for the group (and only for it: other groups applied them already). */
export function replayStream (prefix: string, group: string): string {
  return `${prefix}replay.${group}`
}

/** Replayed entries are few; the stream keeps the last hundred thousand. */
const REPLAY_MAXLEN = 100_000

export interface DeadLetter {
  /** The entry's id in the dead-letter stream (what replay takes). */
  id: string
  group: string
  /** The stream the event was published on, and its entry id there. */
  stream: string
  entryId: string
  eventId: string | null
  type: string | null
  attempts: number
  error: string
  failedAt: string
  consumer: string
  /** The envelope as published: parsed when it is JSON, else the raw text. */
  event: unknown
}

export interface StreamGroupStats {
  stream: string
  length: number
  /** Entries not yet delivered to the group (XINFO GROUPS lag; null when Redis cannot tell). */
  lag: number | null
  /** Delivered, not yet acknowledged. */
  pending: number
  lastDeliveredId: string
  consumers: number
}

export interface ConsumerStats {
  group: string
  lag: number | null
  pending: number
  deadLetters: number
  streams: StreamGroupStats[]
}

export interface EventsAdmin {
  /** Every consumer group reading a producer stream. */
  groups: () => Promise<string[]>
  consumerStats: (group: string) => Promise<ConsumerStats>
  allConsumerStats: () => Promise<ConsumerStats[]>
  /** Oldest first; `after` is the last id of the previous page. */
  listDeadLetters: (group: string, options?: { count?: number, after?: string }) => Promise<DeadLetter[]>
  /** Sends one dead letter back to its group; false when there is no such dead letter. */
  replayDeadLetter: (id: string, options?: { group?: string }) => Promise<boolean>
  /** Sends back every dead letter the group has now; returns how many. */
  replayAll: (group: string) => Promise<number>
}

export interface EventsAdminOptions {
  redis: Redis
  streamPrefix?: string
  /** The producers whose streams are read; default auth, card and file. */
  producers?: readonly string[]
}

const ENTRY_ID = /^\d+-\d+$/

function toDeadLetter (group: string, e: StreamEntry): DeadLetter {
  const f = e.fields
  let event: unknown = f.event ?? null
  try {
    event = JSON.parse(f.event ?? '')
  } catch {}
  return {
    id: e.id,
    group,
    stream: f.stream ?? '',
    entryId: f.entry ?? '',
    eventId: f.eventId ?? null,
    type: f.type ?? null,
    attempts: Number(f.attempts ?? 0),
    error: f.error ?? '',
    failedAt: f.failedAt ?? '',
    consumer: f.consumer ?? '',
    event
  }
}

/** XINFO GROUPS of one stream ([] when the stream does not exist). */
export async function streamGroups (redis: Redis, stream: string): Promise<Array<Record<string, unknown>>> {
  try {
    const raw = await redis.call('XINFO', 'GROUPS', stream)
    return Array.isArray(raw) ? raw.map(record) : []
  } catch (err) {
    if (isMissingKey(err)) return []
    throw err
  }
}

const num = (v: unknown): number => Number(v ?? 0)

/** One group's position on each of the given streams (streams it does not read are left out). */
export async function groupStats (
  redis: Redis, group: string, streams: readonly string[]
): Promise<StreamGroupStats[]> {
  const out: StreamGroupStats[] = []
  for (const stream of streams) {
    const g = (await streamGroups(redis, stream)).find((x) => String(x.name) === group)
    if (g === undefined) continue
    out.push({
      stream,
      length: await redis.xlen(stream),
      lag: g.lag === null || g.lag === undefined ? null : num(g.lag),
      pending: num(g.pending),
      lastDeliveredId: String(g['last-delivered-id'] ?? ''),
      consumers: num(g.consumers)
    })
  }
  return out
}

export function eventsAdmin (options: EventsAdminOptions): EventsAdmin {
  const { redis } = options
  const prefix = options.streamPrefix ?? DEFAULT_STREAM_PREFIX
  const producerStreams = (options.producers ?? Object.keys(PRODUCERS)).map((p) => prefix + p)

  const groups = async (): Promise<string[]> => {
    const names = new Set<string>()
    for (const stream of producerStreams) for (const g of await streamGroups(redis, stream)) names.add(String(g.name))
    return [...names].sort()
  }

  const consumerStats = async (group: string): Promise<ConsumerStats> => {
    const streams = await groupStats(redis, group, [...producerStreams, replayStream(prefix, group)])
    return {
      group,
      lag: streams.some((s) => s.lag === null) ? null : streams.reduce((sum, s) => sum + (s.lag ?? 0), 0),
      pending: streams.reduce((sum, s) => sum + s.pending, 0),
      deadLetters: await redis.xlen(deadLetterStream(prefix, group)),
      streams
    }
  }

  // One MULTI moves each entry: it is never both replayed and still dead, nor lost.
  const replayEntries = async (group: string, list: StreamEntry[]): Promise<void> => {
    if (list.length === 0) return
    const multi = redis.multi()
    for (const e of list) {
      multi.xadd(replayStream(prefix, group), 'MAXLEN', '~', String(REPLAY_MAXLEN), '*',
        'event', e.fields.event ?? '', 'originStream', e.fields.stream ?? '', 'originEntry', e.fields.entry ?? '',
        'replayOf', e.id)
      multi.xdel(deadLetterStream(prefix, group), e.id)
    }
    const replies = await multi.exec()
    if (replies === null) throw new Error('Redis discarded the replay transaction')
    for (const [err] of replies) if (err !== null) throw err
  }

  return {
    groups,
    consumerStats,
    allConsumerStats: async () => await Promise.all((await groups()).map(consumerStats)),
    listDeadLetters: async (group, { count = 100, after } = {}) => {
      const start = after !== undefined && ENTRY_ID.test(after) ? `(${after}` : '-'
      const raw = await redis.call('XRANGE', deadLetterStream(prefix, group), start, '+', 'COUNT', String(count))
      return entries(raw).map((e) => toDeadLetter(group, e))
    },
    replayDeadLetter: async (id, { group } = {}) => {
      if (!ENTRY_ID.test(id)) return false
      const found: Array<{ group: string, entry: StreamEntry }> = []
      for (const g of group === undefined ? await groups() : [group]) {
        const [entry] = entries(await redis.call('XRANGE', deadLetterStream(prefix, g), id, id))
        if (entry !== undefined) found.push({ group: g, entry })
      }
      const [only, ...others] = found
      if (only === undefined) return false
      if (others.length > 0) throw new Error(`dead letter ${id} exists in several groups: name the group`)
      await replayEntries(only.group, [only.entry])
      return true
    },
    replayAll: async (group) => {
      const dead = deadLetterStream(prefix, group)
      // Only what is dead now: a replay that fails again must not loop forever.
      const [last] = entries(await redis.call('XREVRANGE', dead, '+', '-', 'COUNT', '1'))
      if (last === undefined) return 0
      let start = '-'
      let total = 0
      for (;;) {
        const batch = entries(await redis.call('XRANGE', dead, start, last.id, 'COUNT', '100'))
        if (batch.length === 0) return total
        await replayEntries(group, batch)
        total += batch.length
        start = `(${batch[batch.length - 1]?.id ?? last.id}`
      }
    }
  }
}
