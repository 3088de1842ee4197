// The transactional outbox: a producer writes its events into a table of its
// own schema in the same transaction as the change itself, so a request that
// fails publishes nothing and a change that committed always publishes. The
// relay (relay.ts) moves the rows to Redis Streams.
import pg from 'pg'
import { checkEvent, InvalidEventError, producerOf, type HoloEvent } from './envelope.js'

/**
 * The outbox, for a producer's migration (run with the service's schema first
 * on its search_path, as `pnpm db:migrate` and `prisma migrate deploy` do).
 *
 * - `outbox`: one row per event; `payload` is the whole envelope, `stream` the
 *   producer (auth, card, file; the relay adds the stream prefix), `sent_at`
 *   set once the relay published it. Sent rows stay for the retention period
 *   (republish) and are then deleted by the relay.
 * - `created_at` is the time of the INSERT, not of the transaction's start
 *   (now()): a writer that waited for another's lock on the same entity
 *   inserts after that one committed, so publishing in created_at order keeps
 *   each entity's events in commit order, and the rows of one statement keep
 *   the order they were given in.
 * - `outbox_unsent_idx`: only unsent rows, in publishing order; it stays small
 *   however long sent rows are kept. The primary key is a UUIDv7, so it serves
 *   the time ranges of republish and cleanup without a second index.
 * - `outbox_subjects`: the last sequence number given to each subject, so the
 *   events of one entity carry 1, 2, 3, ... (`subjectseq`) in commit order.
 * - No trigger: a NOTIFY inside the producer's transaction would take
 *   PostgreSQL's database-wide notify lock through the commit's WAL flush and
 *   serialise every producing commit. The producer wakes the relays after its
 *   commit instead (`Relay.wake()`, `outboxWaker`: its own relay directly, the
 *   other instances with one coalesced `pg_notify` outside the transaction).
 */
export const OUTBOX_DDL = `CREATE TABLE outbox (
  id uuid PRIMARY KEY,
  stream text NOT NULL,
  type text NOT NULL,
  subject text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  sent_at timestamptz
);

CREATE INDEX outbox_unsent_idx ON outbox (created_at, id) WHERE sent_at IS NULL;

CREATE TABLE outbox_subjects (
  subject text PRIMARY KEY,
  seq bigint NOT NULL
);
`

/** The channel the relays of a schema's outbox LISTEN on (producers `pg_notify` it after their commits). */
export function outboxChannel (schema: string): string {
  return `outbox_${schema}`
}

/** `"schema".name`, or the bare name (found through search_path) without a schema. */
export function qualified (schema: string | undefined, name: string): string {
  const table = pg.escapeIdentifier(name)
  return schema === undefined ? table : `${pg.escapeIdentifier(schema)}.${table}`
}

/** Anything with pg's `query(sql, params)`: a pg.Client, a pool client inside BEGIN ... COMMIT. */
export interface Queryable { query: (sql: string, params?: unknown[]) => Promise<unknown> }

/**
 * Runs one statement inside the caller's transaction, for any driver. With
 * Prisma: `(sql, params) => tx.$executeRawUnsafe(sql, ...params)` inside
 * `prisma.$transaction(async (tx) => ...)`.
 */
export type SqlExecutor = (sql: string, params: unknown[]) => Promise<unknown>

export interface WriteOutboxOptions {
  /** The producer's schema; without it the table is found through search_path. */
  schema?: string
  /**
   * Number each subject's events (`subjectseq`) from `outbox_subjects`, default
   * true. It locks the subject's counter row until commit, so concurrent
   * writers to one entity queue there (they usually already do on its row).
   */
  subjectSequence?: boolean
}

/** The SQL writeOutbox runs (one statement, one JSON parameter: the batch). */
export function outboxInsertSql (options: WriteOutboxOptions = {}): string {
  if (options.subjectSequence === false) {
    return `INSERT INTO ${qualified(options.schema, 'outbox')} (id, stream, type, subject, payload)
SELECT id, stream, type, subject, payload FROM (${outboxInput(1)}) i ORDER BY ord`
  }
  return `WITH ${outboxCtes({ ...options, param: 1 })}
SELECT count(*)::int AS written FROM outbox_written`
}

const outboxInput = (param: number): string => `SELECT x.* FROM jsonb_to_recordset($${param}::jsonb)
    AS x(ord int, id uuid, stream text, type text, subject text, payload jsonb)`

/**
 * The outbox write (with subject sequence numbers) as common table expressions
 * `outbox_input`, `outbox_bumped` and `outbox_written`, for a producer that
 * writes a change and its events in ONE statement of its own (`WITH <these>,
 * <its change> SELECT ...`): no transaction round trips. `param` is the
 * placeholder number of the batch, whose value is `outboxParam(events)`.
 * `only`, when given, is an SQL condition on the input row `i` (its `id`,
 * `type`, `subject`, ...) that may refer to common table expressions written
 * before these: the events of a change that may not happen (an insert that
 * found a conflict) are written only when their condition holds.
 */
export function outboxCtes (options: Omit<WriteOutboxOptions, 'subjectSequence'> & { param: number, only?: string }): string {
  // Counters are bumped once per subject (ON CONFLICT cannot touch a row twice
  // in one statement) and in subject order, so two batches never lock each
  // other's subjects in opposite orders.
  return `outbox_input AS (
  SELECT i.*, count(*) OVER (PARTITION BY i.subject) AS n,
         row_number() OVER (PARTITION BY i.subject ORDER BY i.ord) AS k
  FROM (${outboxInput(options.param)}) i${options.only === undefined ? '' : `
  WHERE ${options.only}`}
), outbox_bumped AS (
  INSERT INTO ${qualified(options.schema, 'outbox_subjects')} AS s (subject, seq)
  SELECT subject, count(*) FROM outbox_input GROUP BY subject ORDER BY subject
  ON CONFLICT (subject) DO UPDATE SET seq = s.seq + excluded.seq
  RETURNING s.subject, s.seq
), outbox_written AS (
  INSERT INTO ${qualified(options.schema, 'outbox')} (id, stream, type, subject, payload)
  SELECT i.id, i.stream, i.type, i.subject, jsonb_set(i.payload, '{subjectseq}', to_jsonb(b.seq - i.n + i.k))
  FROM outbox_input i JOIN outbox_bumped b ON b.subject = i.subject
  ORDER BY i.ord
  RETURNING id
)`
}

/** The batch parameter of the outbox SQL: every event checked against the catalogue first (one bad, none written). */
export function outboxParam (events: readonly HoloEvent[]): string {
  return JSON.stringify(events.map((event, ord) => {
    const problem = checkEvent(event)
    if (problem !== undefined) throw new InvalidEventError(String((event as { type?: unknown }).type), problem)
    return { ord, id: event.id, stream: producerOf(event), type: event.type, subject: event.subject, payload: event }
  }))
}

/**
 * Writes events to the outbox inside the caller's transaction: pass the
 * transaction's client (pg) or a function running SQL in it (any driver). Every
 * event is checked against the catalogue first; one bad event writes nothing.
 * Events of one call are published in the order given.
 */
export async function writeOutbox (
  tx: Queryable | SqlExecutor,
  events: readonly HoloEvent[],
  options: WriteOutboxOptions = {}
): Promise<void> {
  if (events.length === 0) return
  const params = [outboxParam(events)]
  const sql = outboxInsertSql(options)
  if (typeof tx === 'function') await tx(sql, params)
  else await tx.query(sql, params)
}
