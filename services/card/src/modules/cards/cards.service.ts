import type { FastifyBaseLogger } from 'fastify'
import {
  type AuthUser, can, commonErrors, counter, cursorKind, decodeCursor, decodeTimeCursor, encodeCursor, type FileReferenceCheck, type OnBehalfOf, page, UUID
} from '@holo/shared'
import type { Counter, Registry } from 'prom-client'
import { v7 as uuidv7 } from 'uuid'
import { errors } from '../../errors.js'
import type { EntitlementCheck } from '../entitlements/entitlements.repository.js'
import type { TemplateRepository, TemplateRow } from '../templates/templates.repository.js'
import {
  listDimension, writerDimension, type CardCache, type CachedCard, type ListedCard, type ListRead
} from './cards.cache.js'
import { DEFAULT_HOLO, normaliseTags, toCard, toHolo } from './cards.mappers.js'
import {
  cardTag, decodePage, encodePage, pageView, personalTag, toPageJson, withLikedByMe, type JsonView, type PageJson
} from './cards.views.js'
import type { ViewCounter } from './view-counter.js'
import { cardCreated, cardDeleted, cardEdited, cardLiked, cardModerated } from './cards.events.js'
import type {
  CardChanges, CardListFilter, CardListRow, CardRepository, CardRow, CardTx, NewCard, Reader, SortKey
} from './cards.repository.js'
import type { Card, CreateCard, ListCardsQuery, UpdateCard } from './cards.schemas.js'

export type Viewer = AuthUser | null

/** Who may read a card: the rule every read, list and collection applies. */
export function canReadCard (card: { ownerId: string, visibility: string, hidden: boolean }, viewer: Viewer): boolean {
  if (viewer !== null && viewer.id === card.ownerId) return true
  const g = grants(viewer)
  return (card.visibility !== 'private' || g.private) && (!card.hidden || g.hidden)
}

/**
 * What a viewer may read besides their own cards: private cards with cards.read_any, hidden ones with
 * cards.read_any or cards.hide (whoever may unhide a card must see it). The like statement applies the same
 * rule in SQL.
 */
function grants (viewer: Viewer): Omit<Reader, 'id'> {
  const readAny = can(viewer, 'cards.read_any')
  return { private: readAny, hidden: readAny || can(viewer, 'cards.hide') }
}

const isListed = (c: { visibility: string, hiddenAt: Date | null }): boolean =>
  c.visibility === 'public' && c.hiddenAt === null
/** What decides the listings a card row appears in. */
const listedOf = (row: CardRow): ListedCard => ({
  id: row.id,
  ownerId: row.ownerId,
  templateId: row.templateId,
  tags: row.tags,
  rarity: row.rarity,
  effect: (row.holo as { effect?: string } | null)?.effect,
  text: `${row.title} ${row.description} ${row.tags.join(' ')}`
})
/** What canReadCard needs of a card row. */
export const metaOf = (row: CardRow): { ownerId: string, visibility: string, hidden: boolean } =>
  ({ ownerId: row.ownerId, visibility: row.visibility, hidden: row.hiddenAt !== null })

/** Why a card is hidden: a moderator's reason, or reports reaching the threshold (`automatic`). */
export interface HideHow { reason?: string, automatic?: boolean }
/** A hide or show written in a caller's transaction: `committed` invalidates the caches after its commit. */
export interface HiddenChange { card: CardRow, committed: () => Promise<void> }

/** A card as its writer gets it back: with their likedByMe, and the tag of that representation. */
export interface WrittenCard { card: Card, tag: string }

/** Words of a search as a prefix tsquery (`fox:* & star:*`); only letters and digits reach it. */
export function toPrefixQuery (q: string): string | undefined {
  const words = (q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).slice(0, 8).map((w) => w.slice(0, 64))
  return words.length === 0 ? undefined : words.map((w) => `${w}:*`).join(' & ')
}

export interface CardServiceDeps {
  cards: CardRepository
  templates: TemplateRepository
  cache: CardCache
  /** The file service: may the caller use a file as artwork? */
  checkFile: FileReferenceCheck
  /** The card service's copy of billing's entitlements: may the user use this premium template now? */
  entitled: EntitlementCheck
  metrics: Registry
  log: FastifyBaseLogger
  /** Reads by anyone but the owner are counted as views. */
  views: ViewCounter
}

export class CardService {
  private readonly created: Counter
  private readonly likes: Counter<'action'>
  /** First-page loads in flight, by generation and list key. */
  private readonly loading = new Map<string, Promise<PageJson>>()

  constructor (private readonly d: CardServiceDeps) {
    this.created = counter(d.metrics, 'cards_created_total', 'Cards created')
    this.likes = counter(d.metrics, 'card_likes_total', 'Likes added and removed (no-ops not counted)', ['action'])
  }

  /**
   * A card may show only a file its owner may use: theirs (admins: any). The file service decides, asked with
   * the caller's token, until a projection of its events can (docs/card.md). Down: 503 naming `file`, no write.
   */
  private async checkArtwork (fileId: string, onBehalf: OnBehalfOf): Promise<void> {
    const ref = await this.d.checkFile(fileId, onBehalf)
    if (ref !== 'ok') throw errors.FILE_REFERENCE_INVALID(ref === 'foreign')
  }

  /**
   * A premium template is for its author, administrators and users entitled to it (bought, or Holo+ in its
   * period): checked on the copy of billing's entitlements, never by asking billing.
   */
  private async checkPremium (template: TemplateRow, user: AuthUser): Promise<void> {
    if (!template.premium || template.authorId === user.id || can(user, 'templates.manage')) return
    if (await this.d.entitled(user.id, template.id)) return
    const price = template.priceAmount === null || template.priceCurrency === null
      ? null
      : { amount: template.priceAmount, currency: template.priceCurrency }
    throw errors.ENTITLEMENT_REQUIRED(template.id, price)
  }

  async create (user: AuthUser, input: CreateCard, onBehalf: OnBehalfOf): Promise<WrittenCard> {
    let holo = { ...DEFAULT_HOLO }
    if (input.templateId !== undefined) {
      const template = await this.d.templates.find(input.templateId)
      const mine = template !== null && (template.authorId === user.id || can(user, 'templates.manage'))
      const usable = template !== null && (template.status === 'published' || (template.status === 'draft' && mine))
      if (!usable) throw errors.TEMPLATE_NOT_USABLE()
      await this.checkPremium(template, user)
      holo = toHolo({ ...holo, ...(template.holoDefaults as object) })
    }
    if (input.artworkFileId !== undefined) await this.checkArtwork(input.artworkFileId, onBehalf)
    const card: NewCard = {
      // UUIDv7: ids keep creation order.
      id: uuidv7(),
      ownerId: user.id,
      title: input.title,
      description: input.description ?? '',
      templateId: input.templateId ?? null,
      artworkFileId: input.artworkFileId ?? null,
      holo: { ...holo, ...input.holo },
      rarity: input.rarity ?? 'common',
      tags: normaliseTags(input.tags ?? []),
      visibility: input.visibility ?? 'public'
    }
    const row = await this.d.cards.create(card, [cardCreated(card)])
    this.created.inc()
    // A new card removes nothing from any page: its pages stay servable and refresh behind their
    // readers, while its author's own reads skip pages filled before it (read-your-writes).
    if (isListed(row)) await this.d.cache.bumpLists([listedOf(row)], 'added', user.id)
    return { card: { ...toCard(row), likedByMe: false }, tag: personalTag(cardTag(row), false) }
  }

  /** One card as `viewer` may see it: from the cache when it can be, with likedByMe for a signed-in viewer. */
  async get (id: string, viewer: Viewer): Promise<JsonView> {
    // The like lookup does not depend on the cache: run both at once.
    const [cached, likedIds] = await Promise.all([
      this.d.cache.getCard(id),
      viewer === null ? undefined : this.d.cards.likedAmong(viewer.id, [id])
    ])
    let card: CachedCard
    if (cached.hit !== undefined) {
      card = cached.hit
    } else {
      const row = await this.d.cards.find(id)
      if (row === null) throw errors.CARD_NOT_FOUND()
      card = { tag: cardTag(row), ...metaOf(row), body: JSON.stringify(toCard(row)) }
      // Not awaited: the SET goes down the same Redis connection ahead of any later read, and fails soft.
      void this.d.cache.fillCard(id, cached.generation, card)
    }
    if (!canReadCard(card, viewer)) throw errors.CARD_NOT_FOUND()
    if (viewer?.id !== card.ownerId) this.d.views.count(id)
    if (likedIds === undefined) return { json: card.body, tag: card.tag, personal: false }
    const liked = likedIds.has(id)
    return { json: withLikedByMe(card.body, liked), tag: personalTag(card.tag, liked), personal: true }
  }

  /** A card the viewer may see, or 404 exactly as for a card that does not exist. */
  private async visible (id: string, viewer: Viewer): Promise<CardRow> {
    const row = await this.d.cards.find(id)
    if (row === null || !canReadCard(metaOf(row), viewer)) throw errors.CARD_NOT_FOUND()
    return row
  }

  /**
   * A card changed, left its listings or was deleted: no page of its listings before or after may be served.
   * Both rows count even when unlisted: `before` was read ahead of the write, and a concurrent edit may
   * have moved the card into listings only `after` names.
   */
  private async changed (before: CardRow, after: CardRow | null): Promise<void> {
    const rows = after === null ? [before] : [before, after]
    await Promise.all([this.d.cache.invalidateCard(before.id), this.d.cache.bumpLists(rows.map(listedOf), 'changed')])
  }

  /**
   * Owner only. `expected` is the version the client last saw (If-Match; undefined: any,
   * null: none of ours): a domain rule, checked after visibility and ownership so that a stranger
   * still gets 404/403, and only the version counts, so a like since the read is no conflict.
   */
  async update (
    id: string,
    user: AuthUser,
    input: UpdateCard,
    expected: number | null | undefined,
    onBehalf: OnBehalfOf
  ): Promise<WrittenCard> {
    const row = await this.visible(id, user)
    if (row.ownerId !== user.id) throw commonErrors.NOT_OWNER('card')
    if (expected === null || (expected !== undefined && expected !== row.version)) throw errors.CARD_CHANGED()
    if (row.templateId !== null) {
      const template = await this.d.templates.find(row.templateId)
      if (template !== null) await this.checkPremium(template, user)
    }
    // Only a new reference is checked: sending the card back as read must not fail on a file deleted since.
    const artwork = input.artworkFileId
    if (typeof artwork === 'string' && artwork !== row.artworkFileId) await this.checkArtwork(artwork, onBehalf)
    const changes: CardChanges = { ...input, holo: undefined, tags: undefined }
    if (input.holo !== undefined) changes.holo = { ...toHolo(row.holo), ...input.holo }
    if (input.tags !== undefined) changes.tags = normaliseTags(input.tags)
    // Without If-Match the holo merge above still must not overwrite a concurrent edit.
    const guard = expected ?? (input.holo === undefined ? undefined : row.version)
    const result = await this.d.cards.update(id, changes, guard, (before, after) => cardEdited(before, after, user.id))
    if (result === null) throw errors.CARD_NOT_FOUND()
    if (result === 'stale') throw errors.CARD_CHANGED()
    await this.changed(row, result)
    const liked = (await this.d.cards.likedAmong(user.id, [id])).has(id)
    return { card: { ...toCard(result), likedByMe: liked }, tag: personalTag(cardTag(result), liked) }
  }

  async remove (id: string, user: AuthUser): Promise<void> {
    const row = await this.visible(id, user)
    if (row.ownerId !== user.id && !can(user, 'cards.delete_any')) throw commonErrors.NOT_OWNER('card')
    if (!await this.d.cards.softDelete(id, [cardDeleted(row, user.id)])) throw errors.CARD_NOT_FOUND()
    await this.changed(row, null)
  }

  /** Moderation: the route admits moderators and admins only. */
  async setHidden (id: string, user: AuthUser, hidden: boolean, reason?: string): Promise<Card> {
    const change = await this.d.cards.setHidden(id, hidden, cardModerated(user.id, reason))
    if (change === null) throw errors.CARD_NOT_FOUND()
    await this.changed(change.before, change.after)
    const liked = (await this.d.cards.likedAmong(user.id, [id])).has(id)
    return { ...toCard(change.after), likedByMe: liked }
  }

  /**
   * The same hide or show, written in the caller's transaction `tx` (moderation, with its reports). Run the
   * returned `committed` once `tx` has committed: it invalidates the caches exactly as setHidden does. Null when
   * there is no card.
   */
  async setHiddenIn (
    tx: CardTx, id: string, actorId: string, hidden: boolean, how: HideHow = {}
  ): Promise<HiddenChange | null> {
    const change = await this.d.cards.setHidden(id, hidden, cardModerated(actorId, how.reason, how.automatic), tx)
    if (change === null) return null
    return { card: change.after, committed: async () => { await this.changed(change.before, change.after) } }
  }

  async like (id: string, user: AuthUser, on: boolean): Promise<void> {
    // Visibility is checked by the like's own statement (grants: canReadCard's rule), not from the cache.
    const reader = { id: user.id, ...grants(user) }
    const events = cardLiked(id, on, user.id)
    const outcome = on ? await this.d.cards.like(reader, id, events) : await this.d.cards.unlike(reader, id, events)
    if (outcome === 'not_found') throw errors.CARD_NOT_FOUND()
    if (outcome === 'unchanged') return
    this.likes.inc({ action: on ? 'like' : 'unlike' })
    // The card's own entry carries its count; list pages keep theirs until they refresh (at most the list TTL).
    await this.d.cache.invalidateCard(id)
  }

  async list (query: ListCardsQuery, viewer: Viewer): Promise<JsonView> {
    const limit = query.limit ?? 20
    // Ids in one spelling: a listing's cache dimension names them as the rows do (lower case).
    let ownerId = query.ownerId?.toLowerCase()
    const templateId = query.templateId?.toLowerCase()
    if (ownerId === 'me') {
      if (viewer === null) throw commonErrors.UNAUTHORIZED('ownerId=me needs an access token')
      ownerId = viewer.id
    }
    const scope = viewer !== null && ownerId === viewer.id ? 'own' : 'listed'
    const sort = query.sort ?? (query.q !== undefined ? 'relevance' : 'new')
    if (sort === 'relevance' && query.q === undefined) {
      throw errors.VALIDATION_FAILED('sort', 'querystring', 'relevance needs q')
    }
    const tsquery = query.q === undefined ? undefined : toPrefixQuery(query.q)
    if (query.q !== undefined && tsquery === undefined) return await this.present(toPageJson([], null), viewer)

    const after = query.cursor === undefined ? undefined : afterOf(sort, query.cursor)
    const tag = query.tag?.toLowerCase()
    const filter: CardListFilter = {
      scope,
      ownerId,
      tag,
      rarity: query.rarity,
      effect: query.effect,
      templateId,
      text: tsquery === undefined || query.q === undefined
        ? undefined
        : { tsquery, raw: query.q, fuzzy: after?.fuzzy ?? false },
      sort,
      after: after?.key,
      limit
    }
    // A listed first page is the same for every caller: cached once, with likedByMe laid over it per caller.
    if (query.cursor !== undefined || scope !== 'listed') return await this.present(await this.loadPage(filter), viewer)
    const key = JSON.stringify(['p4', query.q, tag, query.rarity, query.effect, templateId, ownerId, sort, limit])
    const dim = listDimension({ ownerId, templateId, q: query.q, tag, rarity: query.rarity, effect: query.effect })
    const read = await this.d.cache.getList(key, dim,
      viewer === null ? undefined : { id: viewer.id, dim: writerDimension(dim, query.q) })
    const hit = read.page === undefined ? undefined : decodePage(read.page)
    if (hit !== undefined) {
      if (read.refresh !== 'none') this.refresh(key, dim, read, filter)
      return await this.present(hit, viewer)
    }
    const stamp = read.stamp
    if (stamp === undefined) return await this.present(await this.loadPage(filter), viewer)
    // The caller's own write is newer than the page: the cards added since are merged in for them (their
    // own among them), and the page so brought up to date is kept for everyone.
    const behind = this.mergeBase(read, filter)
    if (behind !== undefined) {
      const merged = await this.mergeAdded(filter, dim, behind)
      if (merged !== undefined) {
        void this.d.cache.fillList(key, dim, stamp, encodePage(merged), behind.loadedAt)
        return await this.present(merged, viewer)
      }
    }
    // Callers that missed the same entry under the same generations share one query and one
    // fill: an expired popular search costs PostgreSQL once, not once per waiting caller.
    // A caller that saw newer generations (a write answered since) never joins an older load.
    const flight = `${stamp.hard}|${stamp.soft}|${key}`
    let shared = this.loading.get(flight)
    if (shared === undefined) {
      shared = this.loadPage(filter).then((found) => {
        void this.d.cache.fillList(key, dim, stamp, encodePage(found))
        return found
      }).finally(() => this.loading.delete(flight))
      this.loading.set(flight, shared)
    }
    return await this.present(await shared, viewer)
  }

  /**
   * Loads a servable page again behind its readers, one refresh per page at a time, failures only logged:
   * whole when it expired, else by merging in the cards added since its fill.
   */
  private refresh (key: string, dim: string, read: ListRead, filter: CardListFilter): void {
    const flight = `refresh|${key}`
    const stamp = read.stamp
    if (stamp === undefined || this.loading.has(flight)) return
    const behind = read.refresh === 'merge' ? this.mergeBase(read, filter) : undefined
    const job = (async () => {
      const merged = behind === undefined ? undefined : await this.mergeAdded(filter, dim, behind)
      if (merged !== undefined) {
        await this.d.cache.fillList(key, dim, stamp, encodePage(merged), behind?.loadedAt)
        return merged
      }
      const found = await this.loadPage(filter)
      await this.d.cache.fillList(key, dim, stamp, encodePage(found))
      return found
    })().finally(() => this.loading.delete(flight))
    job.catch((err: unknown) => { this.d.log.warn({ err }, 'list page refresh failed; the cached page stays until it expires') })
    this.loading.set(flight, job)
  }

  /**
   * A cached page that cards added since its fill can be merged into: sorted by something a card's adding
   * does not change for the others (newest first, or relevance: likes move neither), and when a search, one
   * that found a full page by its words (a page of the typo-tolerant retry, or a short one that may be, is
   * loaded whole: a new card can turn it back into a search by words).
   */
  private mergeBase (
    read: ListRead, filter: CardListFilter
  ): { page: PageJson, since: number, loadedAt: number } | undefined {
    if (read.behind === undefined || filter.sort === 'popular') return undefined
    const p = decodePage(read.behind.page)
    if (p === undefined) return undefined
    if (filter.text !== undefined && (p.nextCursor === null || cursorKind(p.nextCursor).endsWith('~'))) return undefined
    return { page: p, since: read.behind.since, loadedAt: read.behind.loadedAt }
  }

  /**
   * The page `base` with the cards added to `dim` since it was filled: the query of the page run over its own
   * cards and those alone (their ranks, counts and current state read again), or undefined when what was added
   * is not known (load the page whole). The page's cards cannot have changed or left without a hard bump,
   * which makes it unservable; one gone all the same (a write racing this read) also means a whole load.
   */
  private async mergeAdded (
    filter: CardListFilter, dim: string, base: { page: PageJson, since: number }
  ): Promise<PageJson | undefined> {
    const added = await this.d.cache.addedSince(dim, base.since)
    if (added === undefined) return undefined
    const among = [...new Set([...base.page.ids, ...added])]
    const rows = await this.d.cards.list({ ...filter, among })
    const found = new Set(rows.map((r) => r.id))
    if (base.page.ids.some((id) => !found.has(id))) return undefined
    // Every card past the page's own was past its end before: there is more when there was.
    const more = rows.length > filter.limit || base.page.nextCursor !== null
    const kept = rows.slice(0, filter.limit)
    const last = kept[kept.length - 1]
    const fuzzy = filter.text?.fuzzy ?? false
    const nextCursor = more && last !== undefined ? cursorOf(filter.sort, last, fuzzy) : null
    return toPageJson(kept.map(toCard), nextCursor)
  }

  /** A page of cards matching the filter; a first-page search that finds nothing retries with typo tolerance. */
  private async loadPage (filter: CardListFilter): Promise<PageJson> {
    let f = filter
    let rows = await this.d.cards.list(f)
    // Nothing matched the words as typed: try titles with a typo (first page only; its cursors carry the mode).
    if (rows.length === 0 && f.text !== undefined && f.after === undefined) {
      f = { ...f, text: { ...f.text, fuzzy: true } }
      rows = await this.d.cards.list(f)
    }
    const fuzzy = f.text?.fuzzy ?? false
    const found = page(rows, f.limit, toCard, (r) => cursorOf(f.sort, r, fuzzy))
    return toPageJson(found.items, found.nextCursor)
  }

  /** A page as the viewer sees it: with likedByMe for a signed-in one. */
  private async present (p: PageJson, viewer: Viewer): Promise<JsonView> {
    return viewer === null ? pageView(p) : pageView(p, await this.d.cards.likedAmong(viewer.id, p.ids))
  }
}

function afterOf (sort: CardListFilter['sort'], cursor: string): { key: SortKey, fuzzy: boolean } {
  const fuzzy = cursorKind(cursor).endsWith('~')
  const kind = (k: string): string => fuzzy ? `${k}~` : k
  if (sort === 'popular') {
    const [likeCount, id] = decodeCursor(cursor, kind('p'), ['n', 's']) as [number, string]
    if (!UUID.test(id) || !Number.isInteger(likeCount)) throw commonErrors.INVALID_CURSOR()
    return { key: { sort, likeCount, id }, fuzzy }
  }
  if (sort === 'relevance') {
    const [rank, id] = decodeCursor(cursor, kind('r'), ['n', 's']) as [number, string]
    if (!UUID.test(id)) throw commonErrors.INVALID_CURSOR()
    return { key: { sort, rank, id }, fuzzy }
  }
  return { key: { sort, ...decodeTimeCursor(cursor, kind('n')) }, fuzzy }
}

function cursorOf (sort: CardListFilter['sort'], r: CardListRow, fuzzy: boolean): string {
  const suffix = fuzzy ? '~' : ''
  if (sort === 'popular') return encodeCursor(`p${suffix}`, [r.likeCount, r.id])
  if (sort === 'relevance') return encodeCursor(`r${suffix}`, [r.rank ?? 0, r.id])
  return encodeCursor(`n${suffix}`, [r.createdAt.toISOString(), r.id])
}
