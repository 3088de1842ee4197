// Effect exactly once on top of at-least-once delivery: a consumer records the
// id of each event it applied, in the same transaction as the effect, so a
// redelivered event (a retry, a claim after a crash, a republish) changes
// nothing.
import type pg from 'pg'
import { eventIdFloor } from './envelope.js'
import { qualified } from './outbox.js'
import { inTransaction, preparedQuery } from './pg.js'

/**
 * The record of applied events, for a consumer's migration (in its own schema,
 * unqualified like the outbox DDL). The key starts with the group so that
 * several consumers may share one table; the event id is a UUIDv7, so pruning
 * old ids walks the key.
 */
export const APPLIED_EVENTS_DDL = `CREATE TABLE applied_events (
  consumer_group text NOT NULL,
  event_id uuid NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, event_id)
);
`

export interface EffectOnceOptions {
  /** The schema of applied_events; without it the table is found through search_path. */
  schema?: string
}

export type EffectResult<T> = { applied: true, value: T } | { applied: false }

/**
 * Runs `fn` in a transaction that also records (group, eventId); when the id is
 * already recorded it skips `fn`. Two instances racing on one event serialise
 * on the key: the second waits for the first's commit, then skips.
 */
export async function withEffectOnce<T> (
  pool: pg.Pool,
  group: string,
  eventId: string,
  fn: (tx: pg.PoolClient) => Promise<T>,
  options: EffectOnceOptions = {}
): Promise<EffectResult<T>> {
  // A recorded id writes nothing (ON CONFLICT DO NOTHING): committing that empty transaction skips the effect.
  return await inTransaction(pool, async (client) => {
    const inserted = await record(client, group, eventId, options)
    if (inserted.rowCount === 0) return { applied: false }
    return { applied: true, value: await fn(client) }
  })
}

/** Several events' effects in one transaction (withEffectsOnce). */
export interface EffectBatch {
  /**
   * Records (group, eventId) in the batch's transaction and runs `fn` in it; when the id is recorded already
   * (committed, or earlier in this batch) it skips `fn`. One event at a time: the batch has one connection. After
   * a throw the transaction is unusable: let the error leave the batch, which rolls everything back.
   */
  run: <T>(eventId: string, fn: (tx: pg.PoolClient) => Promise<T>) => Promise<EffectResult<T>>
  /**
   * Records several events at once (one statement, in id order so that two transactions recording overlapping
   * ids take their locks in one order); their `run` then records nothing more: it runs the effect of an id this
   * recorded and skips one that was recorded already.
   */
  recordAhead: (eventIds: readonly string[]) => Promise<void>
}

/**
 * withEffectOnce for several events in one transaction, so that they share one COMMIT (one WAL flush): `fn` gets
 * a batch whose `run` records each event and runs its effect in that transaction; the transaction commits when
 * `fn` returns and rolls back, with every record and effect of the batch, when it throws (or when a statement
 * failed and its error was caught: the COMMIT would then only roll back, and this throws). An applied result
 * means "committed" only once this returns.
 */
export async function withEffectsOnce<R> (
  pool: pg.Pool,
  group: string,
  fn: (batch: EffectBatch) => Promise<R>,
  options: EffectOnceOptions = {}
): Promise<R> {
  return await inTransaction(pool, async (client) => {
    let busy = false
    /** Ids recorded ahead and not run yet → whether this transaction recorded them (false: applied before). */
    const ahead = new Map<string, boolean>()
    return await fn({
      recordAhead: async (eventIds) => {
        const ids = [...new Set(eventIds.map((id) => id.toLowerCase()))].filter((id) => !ahead.has(id)).sort()
        if (ids.length === 0) return
        const recorded = new Set((await recordMany(client, group, ids, options)).rows.map((r) => r.event_id))
        for (const id of ids) ahead.set(id, recorded.has(id))
      },
      run: async (eventId, effect) => {
        if (busy) throw new Error('withEffectsOnce: run one event at a time')
        busy = true
        try {
          const id = eventId.toLowerCase()
          const recordedAhead = ahead.get(id)
          ahead.delete(id)
          const fresh = recordedAhead ?? (await record(client, group, eventId, options)).rowCount !== 0
          if (!fresh) return { applied: false }
          return { applied: true, value: await effect(client) }
        } finally {
          busy = false
        }
      }
    })
  })
}

async function record (
  client: pg.PoolClient, group: string, eventId: string, options: EffectOnceOptions
): Promise<pg.QueryResult> {
  const table = qualified(options.schema, 'applied_events')
  return await preparedQuery(client,
    `INSERT INTO ${table} (consumer_group, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [group, eventId])
}

async function recordMany (
  client: pg.PoolClient, group: string, eventIds: string[], options: EffectOnceOptions
): Promise<pg.QueryResult<{ event_id: string }>> {
  const table = qualified(options.schema, 'applied_events')
  // WITH ORDINALITY and ORDER BY: rows go in (and their keys are locked) in the given order.
  return await preparedQuery<{ event_id: string }>(client,
    `INSERT INTO ${table} (consumer_group, event_id)
     SELECT $1, id FROM unnest($2::uuid[]) WITH ORDINALITY AS u(id, n) ORDER BY n
     ON CONFLICT DO NOTHING RETURNING event_id::text`, [group, eventIds])
}

/** How a consumer makes its effects idempotent; see postgresApplied and appliedStore. */
export interface EffectOnce {
  /** Runs the effect unless the event was applied already; true when it ran. */
  run: EffectRun
  /**
   * Optional: one transaction for several events. `fn` gets a run like the one above, called one event at a time,
   * whose records and effects all go into that transaction; it commits when `fn` returns and rolls back (nothing
   * recorded, nothing applied) when `fn` throws. The consumer applies a read batch through it when present.
   */
  batch?: <R>(group: string, fn: (run: (eventId: string, effect: EffectFn) => Promise<boolean>,
    recordAhead?: EffectBatch['recordAhead']) => Promise<R>) => Promise<R>
}

type EffectFn = (tx: pg.PoolClient | undefined) => Promise<void>
type EffectRun = (group: string, eventId: string, effect: EffectFn) => Promise<boolean>

/**
 * Effect-once in PostgreSQL: the handler gets the transaction that records the event; a consumer batch shares
 * one transaction (withEffectsOnce).
 */
export function postgresApplied (pool: pg.Pool, options: EffectOnceOptions = {}): EffectOnce {
  return {
    run: async (group, eventId, effect) =>
      (await withEffectOnce(pool, group, eventId, async (tx) => { await effect(tx) }, options)).applied,
    batch: async (group, fn) => await withEffectsOnce(pool, group, async (batch) =>
      await fn(async (eventId, effect) => (await batch.run(eventId, async (tx) => { await effect(tx) })).applied,
      batch.recordAhead),
    options)
  }
}

export interface TransactionHooks<S> {
  /** A fresh state, when a transaction's first effect runs. */
  open: () => S
  /** In the transaction, after its last effect and before COMMIT: writes the effects gathered (a throw rolls all back). */
  beforeCommit?: (state: S, tx: pg.PoolClient) => Promise<void>
  /** After the COMMIT: acts on what the transaction changed (publishing, counting). Not called after a rollback. */
  committed?: (state: S) => void
}

/**
 * postgresApplied (or any EffectOnce handing its transaction to the effects) with a state of the consumer's own
 * per transaction: the effects of one transaction, a single event's or a batch's, share it (`stateOf(tx)` from a
 * handler), so they can gather writes for one statement before the commit, carry what they read (a chain's head)
 * from one event to the next, or collect what to publish once the commit is done. A rolled-back transaction's
 * state is dropped with it.
 */
export function withTransactionState<S> (base: EffectOnce, hooks: TransactionHooks<S>):
{ applied: EffectOnce, stateOf: (tx: pg.PoolClient | undefined) => S | undefined } {
  // Keyed by the connection, which serves one transaction at a time: each effect sets its transaction's state.
  const states = new WeakMap<pg.PoolClient, S>()
  /** One transaction's effects: the state is made by the first and flushed by finish. */
  const opened = (): { wrap: (effect: EffectFn) => EffectFn, finish: () => Promise<S | undefined> } => {
    let state: S | undefined
    let client: pg.PoolClient | undefined
    return {
      wrap: (effect) => async (tx) => {
        if (tx !== undefined) {
          state ??= hooks.open()
          client = tx
          states.set(tx, state)
        }
        await effect(tx)
      },
      finish: async () => {
        if (state !== undefined && client !== undefined) await hooks.beforeCommit?.(state, client)
        return state
      }
    }
  }
  const batch = base.batch
  const applied: EffectOnce = {
    run: async (group, eventId, effect) => {
      const t = opened()
      let state: S | undefined
      const ran = await base.run(group, eventId, async (tx) => {
        await t.wrap(effect)(tx)
        state = await t.finish()
      })
      if (ran && state !== undefined) hooks.committed?.(state)
      return ran
    },
    batch: batch === undefined ? undefined : async (group, fn) => {
      const t = opened()
      let state: S | undefined
      const value = await batch(group, async (run, recordAhead) => {
        const v = await fn(async (eventId, effect) => await run(eventId, t.wrap(effect)), recordAhead)
        state = await t.finish()
        return v
      })
      if (state !== undefined) hooks.committed?.(state)
      return value
    }
  }
  return { applied, stateOf: (tx) => tx === undefined ? undefined : states.get(tx) }
}

/**
 * A store of applied ids outside the effect's transaction (Redis, a file...):
 * checked before and recorded after the effect. A crash between the two
 * applies the event again, so prefer postgresApplied where the effect is in
 * PostgreSQL.
 */
export interface AppliedStore {
  has: (eventId: string) => Promise<boolean>
  record: (eventId: string) => Promise<void>
}

export function appliedStore (store: AppliedStore): EffectOnce {
  return {
    run: async (_group, eventId, effect) => {
      if (await store.has(eventId)) return false
      await effect(undefined)
      await store.record(eventId)
      return true
    }
  }
}

/**
 * Forgets applied ids made before `before` (their events can no longer come
 * back once the outbox and the streams dropped them: keep more than the
 * retention). Returns how many were deleted.
 */
export async function pruneAppliedEvents (
  pool: pg.Pool, group: string, before: Date, options: EffectOnceOptions = {}
): Promise<number> {
  const res = await pool.query(
    `DELETE FROM ${qualified(options.schema, 'applied_events')} WHERE consumer_group = $1 AND event_id < $2`,
    [group, eventIdFloor(before)]
  )
  return res.rowCount ?? 0
}
