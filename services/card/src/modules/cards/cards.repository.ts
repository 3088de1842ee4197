import DataLoader from 'dataloader'
import { outboxCtes, outboxParam, type HoloEvent } from '@holo/events'
import { type Changed, directQuery, eventsCommitted, type EventsOf, writeEvents } from '@holo/shared'
import type pg from 'pg'
import { Histogram, type Registry } from 'prom-client'
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js'
import type { Holo } from './cards.schemas.js'

/** A card row as the service sees it (the `search` column is never read). */
export interface CardRow {
  id: string
  ownerId: string
  title: string
  description: string
  templateId: string | null
  artworkFileId: string | null
  holo: unknown
  rarity: string
  tags: string[]
  visibility: string
  likeCount: number
  version: number
  hiddenAt: Date | null
  deletedAt: Date | null
  createdAt: Date
  updatedAt: Date
}

export interface NewCard {
  /** A UUIDv7 made by the service, so that the card's events can name it before the insert. */
  id: string
  ownerId: string
  title: string
  description: string
  templateId: string | null
  artworkFileId: string | null
  holo: Holo
  rarity: string
  tags: string[]
  visibility: string
}

/** A create waiting for its batch: the card and the events its insert publishes. */
interface PendingInsert { card: NewCard, events: readonly HoloEvent[] }

/** A like's or an unlike's event, given the card's owner and new like count. */
export type LikeEvent = (card: { ownerId: string, likeCount: number }) =>
HoloEvent<'holo.card.liked.v1' | 'holo.card.unliked.v1'>

/**
 * Who reads a card, as SQL checks it (the rule of the service's canReadCard): its owner always; others a
 * private card only with `private`, a hidden one only with `hidden`.
 */
export interface Reader { id: string, private: boolean, hidden: boolean }

/** What a like or unlike did: the card is not there for this reader, nothing changed (idempotent), or changed. */
export type LikeOutcome = 'not_found' | 'unchanged' | 'changed'

/** A transaction of the card service's client, handed between repositories that write in the same one. */
export type CardTx = Prisma.TransactionClient

/**
 * A like or an unlike in one statement ($1 card, $2 reader, $3 may read private cards, $4 may read hidden ones;
 * $5–$8 the event's id, type, subject and JSON). CTE `card` is the card when the reader may see it (the rule of
 * the service's canReadCard); `change` is the like's insert or delete (CTE `changed`) and the count's update
 * (`counted`). The event goes to the outbox as writeEvents would write it (next subject sequence number), with the
 * owner and the new count filled in from the statement's own rows. No change, no event. One row when the card
 * is there for the reader: its new count, or null when nothing changed.
 */
const likeStatement = (change: string): string => `
  WITH card AS (
    SELECT id, owner_id FROM cards
    WHERE id = $1::uuid AND deleted_at IS NULL AND (owner_id = $2::uuid OR (
      (visibility <> 'private' OR $3::boolean) AND (hidden_at IS NULL OR $4::boolean)))
  ), ${change}, numbered AS (
    INSERT INTO outbox_subjects AS s (subject, seq) SELECT $7, 1 FROM counted
    ON CONFLICT (subject) DO UPDATE SET seq = s.seq + 1 RETURNING s.seq
  ), written AS (
    INSERT INTO outbox (id, stream, type, subject, payload)
    SELECT $5::uuid, 'card', $6, $7,
      jsonb_set(jsonb_set(jsonb_set($8::jsonb,
        '{data,likeCount}', to_jsonb(counted.like_count)),
        '{data,ownerId}', to_jsonb(card.owner_id::text)),
        '{subjectseq}', to_jsonb(numbered.seq))
    FROM card, counted, numbered
  )
  SELECT (SELECT like_count FROM counted) AS "likeCount" FROM card`

const LIKE = likeStatement(`changed AS (
    INSERT INTO likes (user_id, card_id) SELECT $2::uuid, card.id FROM card
    ON CONFLICT DO NOTHING RETURNING card_id
  ), counted AS (
    UPDATE card_like_counts n SET like_count = n.like_count + 1
    FROM changed WHERE n.card_id = changed.card_id RETURNING n.like_count
  )`)

const UNLIKE = likeStatement(`changed AS (
    DELETE FROM likes USING card WHERE likes.user_id = $2::uuid AND likes.card_id = card.id
    RETURNING likes.card_id
  ), counted AS (
    UPDATE card_like_counts n SET like_count = n.like_count - 1
    FROM changed WHERE n.card_id = changed.card_id RETURNING n.like_count
  )`)

/** The client or a transaction's: what reads by id run on. */
type Db = Pick<PrismaClient, '$queryRaw'>

export type CardChanges = Partial<
  Pick<NewCard, 'title' | 'description' | 'artworkFileId' | 'holo' | 'rarity' | 'tags' | 'visibility'>
>

export type SortKey =
  | { sort: 'new', createdAt: string, id: string }
  | { sort: 'popular', likeCount: number, id: string }
  | { sort: 'relevance', rank: number, id: string }

export interface CardListFilter {
  /** listed: public, not hidden; own: every card of `ownerId` that is not deleted. */
  scope: 'listed' | 'own'
  ownerId?: string
  tag?: string
  rarity?: string
  effect?: string
  templateId?: string
  /**
   * Prefix tsquery built from sanitised words, plus the raw text. `fuzzy`
   * matches titles by trigram word similarity instead (typo tolerance): the
   * service uses it only when the full-text search finds nothing, as it costs
   * far more than the GIN lookup.
   */
  text?: { tsquery: string, raw: string, fuzzy: boolean }
  sort: 'new' | 'popular' | 'relevance'
  after?: SortKey
  limit: number
  /** Only these cards (a cached page's and those added since): ranks and counts read for them alone. */
  among?: string[]
}

export type CardListRow = CardRow & { rank?: number }

/** A card row's columns; the like count comes from `likeCount` (card_like_counts, or 0 for a new card). */
const cardColumns = (likeCount: Prisma.Sql): Prisma.Sql => Prisma.sql`cards.id, cards.owner_id AS "ownerId",
  cards.title, cards.description, cards.template_id AS "templateId", cards.artwork_file_id AS "artworkFileId",
  cards.holo, cards.rarity,
  cards.tags, cards.visibility, ${likeCount} AS "likeCount", cards.version, cards.hidden_at AS "hiddenAt",
  cards.deleted_at AS "deletedAt", cards.created_at AS "createdAt", cards.updated_at AS "updatedAt"`

/** Cards with their like counts: read COLUMNS FROM CARDS. */
const COLUMNS = cardColumns(Prisma.sql`n.like_count`)
const CARDS = Prisma.sql`cards JOIN card_like_counts n ON n.card_id = cards.id`

/** The predicate of the partial `cards_listed_*` indexes: keep it textually identical. */
const LISTED = Prisma.sql`visibility = 'public' AND hidden_at IS NULL AND deleted_at IS NULL`

/** DataLoader batching of whatever arrives in one turn of the event loop (up to 100), with no caching. */
const sameTurn = { cache: false, maxBatchSize: 100, batchScheduleFn: (run: () => void) => setImmediate(run) } as const

export class CardRepository {
  /**
   * Creates that arrive in the same turn of the event loop share one INSERT:
   * one round trip, one plan and one commit for all of them, which under load
   * is most of what a create costs. Each caller still answers only after its
   * own row has committed.
   */
  private readonly inserts = new DataLoader<PendingInsert, CardRow>(async (batch) => await this.insertEach(batch), sameTurn)

  /**
   * Like lookups arriving in the same turn (every signed-in read asks one) share one SELECT over
   * the (user, card) pairs of all of them: one round trip instead of one per reader.
   */
  private readonly likeLookups = new DataLoader<{ userId: string, cardIds: string[] }, Set<string>>(async (asks) => {
    const users = asks.flatMap((a) => a.cardIds.map(() => a.userId))
    const cards = asks.flatMap((a) => a.cardIds)
    const rows = await this.prisma.$queryRaw<Array<{ userId: string, cardId: string }>>`
      SELECT l.user_id AS "userId", l.card_id AS "cardId"
      FROM unnest(${users}::uuid[], ${cards}::uuid[]) AS p(user_id, card_id)
      JOIN likes l ON l.user_id = p.user_id AND l.card_id = p.card_id`
    const liked = new Set(rows.map((r) => `${r.userId}|${r.cardId}`))
    return asks.map((a) => new Set(a.cardIds.filter((id) => liked.has(`${a.userId}|${id}`))))
  }, sameTurn)

  /** Reads by id arriving in the same turn share one SELECT, as creates share an INSERT. */
  private readonly reads = new DataLoader<string, CardRow | null>(async (ids) => {
    const byId = await this.byIds(ids)
    return ids.map((id) => byId.get(id) ?? null)
  }, sameTurn)

  private readonly batchSizes: Histogram

  constructor (
    private readonly prisma: PrismaClient,
    private readonly schema: string,
    metrics: Registry,
    /** The pool under `prisma` (its adapter's): the like statements go to it directly. */
    private readonly pool: pg.Pool
  ) {
    this.batchSizes = new Histogram({
      name: 'card_insert_batch_size',
      help: 'Cards written by one INSERT (creates arriving together share one)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 100],
      registers: [metrics]
    })
  }

  /** Inserts the card and writes its events in the same transaction (shared with the creates of the same turn). */
  async create (card: NewCard, events: readonly HoloEvent[]): Promise<CardRow> {
    return await this.inserts.load({ card, events })
  }

  /**
   * A statement is all or nothing: when a batch fails, each card is tried alone so one bad row
   * fails only its own request.
   */
  private async insertEach (batch: readonly PendingInsert[]): Promise<Array<CardRow | Error>> {
    this.batchSizes.observe(batch.length)
    try {
      return await this.insertMany(batch)
    } catch (err) {
      if (batch.length === 1) throw err
      return await Promise.all(batch.map(async (one) =>
        await this.insertMany([one]).then((rows) => rows[0] as CardRow, (e: unknown) => e as Error)))
    }
  }

  /**
   * One statement inserts the batch's cards and writes their events to the outbox
   * (`outboxCtes`): a create costs one round trip, as it did before the outbox.
   */
  private async insertMany (batch: readonly PendingInsert[]): Promise<CardRow[]> {
    const cards = batch.map((b) => b.card)
    const ids = cards.map((c) => c.id)
    const now = new Date().toISOString()
    const rows = await this.prisma.$queryRawUnsafe<CardRow[]>(`
      WITH ${outboxCtes({ schema: this.schema, param: 1 })}, inserted AS (
        INSERT INTO cards (id, owner_id, title, description, template_id, artwork_file_id, holo, rarity, tags,
          visibility, created_at, updated_at)
        SELECT id, owner_id, title, description, template_id, artwork_file_id, holo, rarity,
          ARRAY(SELECT jsonb_array_elements_text(tags)), visibility, $12::timestamptz, $12::timestamptz
        FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[], $7::uuid[], $8::jsonb[], $9::text[],
          $10::jsonb[], $11::text[])
          AS t(id, owner_id, title, description, template_id, artwork_file_id, holo, rarity, tags, visibility)
        RETURNING ${cardColumns(Prisma.sql`0`).text}
      )
      SELECT * FROM inserted`,
    outboxParam(batch.flatMap((b) => b.events)),
    ids, cards.map((c) => c.ownerId), cards.map((c) => c.title), cards.map((c) => c.description),
    cards.map((c) => c.templateId), cards.map((c) => c.artworkFileId), cards.map((c) => JSON.stringify(c.holo)),
    cards.map((c) => c.rarity), cards.map((c) => JSON.stringify(c.tags)), cards.map((c) => c.visibility), now)
    eventsCommitted(this.prisma)
    const byId = new Map(rows.map((r) => [r.id, r]))
    return ids.map((id) => byId.get(id) as CardRow)
  }

  /** A card that is not deleted, or null. */
  async find (id: string): Promise<CardRow | null> {
    return await this.reads.load(id)
  }

  /**
   * Applies changes when the card exists and, if given, still has `expectedVersion`. The row is
   * locked first, so `eventsOf` compares the state this change really replaced with the new one
   * (a concurrent edit cannot make the events describe another change than the one committed).
   * Returns the new row, null when there is no such card, or 'stale'.
   */
  async update (
    id: string,
    changes: CardChanges,
    expectedVersion: number | undefined,
    eventsOf: Changed<CardRow>
  ): Promise<CardRow | 'stale' | null> {
    const data = { ...changes, holo: changes.holo as Prisma.InputJsonObject | undefined, version: { increment: 1 } }
    return await this.prisma.$transaction(async (tx) => {
      const before = await this.locked(id, tx)
      if (before === null) return null
      const { count } = await tx.card.updateMany({
        where: { id, deletedAt: null, ...(expectedVersion !== undefined ? { version: expectedVersion } : {}) },
        data
      })
      if (count === 0) return 'stale'
      const after = (await this.byIds([id], tx)).get(id) as CardRow
      await writeEvents(tx, eventsOf(before, after), this.schema)
      return after
    })
  }

  /** The card, its row locked until the transaction ends; null when there is none (or it is deleted). */
  private async locked (id: string, tx: Db): Promise<CardRow | null> {
    await tx.$queryRaw`SELECT 1 FROM cards WHERE id = ${id}::uuid FOR UPDATE`
    return (await this.byIds([id], tx)).get(id) ?? null
  }

  async softDelete (id: string, events: readonly HoloEvent[]): Promise<boolean> {
    return await this.prisma.$transaction(async (tx) => {
      const { count } = await tx.card.updateMany({
        where: { id, deletedAt: null },
        data: { deletedAt: new Date(), version: { increment: 1 } }
      })
      if (count === 1) await writeEvents(tx, events, this.schema)
      return count === 1
    })
  }

  /**
   * Hides or shows the card (row locked first, like update), in its own transaction or in `within` (moderation
   * writes its reports in the same one); null when there is none.
   */
  async setHidden (
    id: string, hidden: boolean, eventsOf: Changed<CardRow>, within?: CardTx
  ): Promise<{ before: CardRow, after: CardRow } | null> {
    const work = async (tx: CardTx): Promise<{ before: CardRow, after: CardRow } | null> => {
      const before = await this.locked(id, tx)
      if (before === null) return null
      await tx.card.updateMany({
        where: { id, deletedAt: null },
        data: { hiddenAt: hidden ? new Date() : null, version: { increment: 1 } }
      })
      const after = (await this.byIds([id], tx)).get(id) as CardRow
      await writeEvents(tx, eventsOf(before, after), this.schema)
      return { before, after }
    }
    return within === undefined ? await this.prisma.$transaction(work) : await work(within)
  }

  /**
   * Adds a like to a card the reader may see, with its event when it is new: one statement (the like is the
   * hottest write). The visibility check, the insert, the count change and the outbox row run together, so a
   * like costs one round trip whether or not the card is cached; the card row itself is not written (see
   * migration 20261126180000_card_like_counts).
   */
  async like (reader: Reader, cardId: string, eventOf: LikeEvent): Promise<LikeOutcome> {
    return await this.likeChange(LIKE, reader, cardId, eventOf)
  }

  async unlike (reader: Reader, cardId: string, eventOf: LikeEvent): Promise<LikeOutcome> {
    return await this.likeChange(UNLIKE, reader, cardId, eventOf)
  }

  /**
   * Runs a like statement (LIKE or UNLIKE) and tells what it did. It goes to the pool under Prisma directly,
   * prepared once per connection: raw SQL gains nothing from Prisma's query path, which cost a sixth of the card
   * service's CPU per like (perf, 2026-12-02).
   */
  private async likeChange (statement: string, reader: Reader, cardId: string, eventOf: LikeEvent): Promise<LikeOutcome> {
    // The owner and the count are placeholders here: the statement writes the ones it read and made.
    const event = eventOf({ ownerId: reader.id, likeCount: 0 })
    const { rows } = await directQuery<{ likeCount: number | null }>(this.pool, statement, [
      cardId, reader.id, reader.private, reader.hidden, event.id, event.type, event.subject, JSON.stringify(event)
    ])
    if (rows.length === 0) return 'not_found'
    if (rows[0]?.likeCount === null) return 'unchanged'
    eventsCommitted(this.prisma)
    return 'changed'
  }

  /** Writes events that go with no change of a row (counted views). */
  async publish (events: readonly HoloEvent[]): Promise<void> {
    await this.prisma.$transaction(async (tx) => { await writeEvents(tx, events, this.schema) })
  }

  /** Which of `cardIds` the user likes. */
  async likedAmong (userId: string, cardIds: string[]): Promise<Set<string>> {
    if (cardIds.length === 0) return new Set()
    return await this.likeLookups.load({ userId, cardIds })
  }

  async list (f: CardListFilter): Promise<CardListRow[]> {
    const where: Prisma.Sql[] = [f.scope === 'listed' ? LISTED : Prisma.sql`deleted_at IS NULL`]
    if (f.ownerId !== undefined) where.push(Prisma.sql`owner_id = ${f.ownerId}::uuid`)
    if (f.tag !== undefined) where.push(Prisma.sql`tags @> ARRAY[${f.tag}]::text[]`)
    if (f.rarity !== undefined) where.push(Prisma.sql`rarity = ${f.rarity}`)
    if (f.effect !== undefined) where.push(Prisma.sql`(holo ->> 'effect') = ${f.effect}`)
    if (f.templateId !== undefined) where.push(Prisma.sql`template_id = ${f.templateId}::uuid`)
    if (f.text !== undefined) {
      where.push(f.text.fuzzy
        ? Prisma.sql`title OPERATOR(public.%>) ${f.text.raw}`
        : Prisma.sql`search @@ to_tsquery('simple', ${f.text.tsquery})`)
    }
    const filtered = Prisma.join(where, ' AND ')
    // A few cards by id, then the filters over them alone: planned together, the filters' GIN indexes would
    // be scanned for every match (OFFSET 0 keeps the subquery apart).
    const from = f.among === undefined
      ? Prisma.sql`cards`
      : Prisma.sql`(SELECT * FROM cards WHERE id = ANY(${f.among}::uuid[]) OFFSET 0) cards`
    const a = f.after
    const take = f.limit + 1

    if (f.sort === 'relevance' && f.text !== undefined) {
      const rank = f.text.fuzzy
        ? Prisma.sql`public.word_similarity(${f.text.raw}, title)::real`
        : Prisma.sql`ts_rank(search, to_tsquery('simple', ${f.text.tsquery}))`
      const after = a?.sort === 'relevance'
        ? Prisma.sql`WHERE (rank, id) < (${a.rank}::real, ${a.id}::uuid)`
        : Prisma.empty
      // Ranked on ids alone; only the page's rows are then read whole.
      return await this.prisma.$queryRaw<CardListRow[]>`
        SELECT ${COLUMNS}, top.rank FROM (
          SELECT id, rank FROM (SELECT id, ${rank} AS rank FROM ${from} WHERE ${filtered}) ranked
          ${after} ORDER BY rank DESC, id DESC LIMIT ${take}
        ) top JOIN ${CARDS} ON cards.id = top.id ORDER BY top.rank DESC, top.id DESC`
    }
    if (f.sort === 'popular') {
      const after = a?.sort === 'popular'
        ? Prisma.sql`AND (n.like_count, n.card_id) < (${a.likeCount}::int, ${a.id}::uuid)`
        : Prisma.empty
      return await this.prisma.$queryRaw<CardListRow[]>`
        SELECT ${COLUMNS} FROM ${from} JOIN card_like_counts n ON n.card_id = cards.id WHERE ${filtered} ${after}
        ORDER BY n.like_count DESC, n.card_id DESC LIMIT ${take}`
    }
    const after = a?.sort === 'new'
      ? Prisma.sql`AND (created_at, cards.id) < (${a.createdAt}::timestamptz, ${a.id}::uuid)`
      : Prisma.empty
    return await this.prisma.$queryRaw<CardListRow[]>`
      SELECT ${COLUMNS} FROM ${from} JOIN card_like_counts n ON n.card_id = cards.id WHERE ${filtered} ${after}
      ORDER BY created_at DESC, cards.id DESC LIMIT ${take}`
  }

  /** Cards by id in the given order, deleted ones left out (collections filter visibility on top). */
  async findMany (ids: string[]): Promise<CardRow[]> {
    if (ids.length === 0) return []
    const byId = await this.byIds(ids)
    return ids.flatMap((id) => byId.get(id) ?? [])
  }

  /** The cards among `ids` that are not deleted, by id. */
  private async byIds (ids: readonly string[], db: Db = this.prisma): Promise<Map<string, CardRow>> {
    const rows = await db.$queryRaw<CardRow[]>`
      SELECT ${COLUMNS} FROM ${CARDS} WHERE cards.id = ANY(${ids}::uuid[]) AND cards.deleted_at IS NULL`
    return new Map(rows.map((r) => [r.id, r]))
  }
}
