import { can, commonErrors, decodeTimeCursor, encodeCursor, page, type AuthUser } from '@holo/shared'
import { errors } from '../../errors.js'
import { toCard } from '../cards/cards.mappers.js'
import type { CardRepository } from '../cards/cards.repository.js'
import { canReadCard, metaOf, type Viewer } from '../cards/cards.service.js'
import { MAX_CARDS, type CollectionRepository, type CollectionRow } from './collections.repository.js'
import { cardAdded, cardRemoved, collectionCreated } from './collections.events.js'
import type {
  Collection, CollectionSummary, CreateCollection, ListCollectionsQuery, UpdateCollection
} from './collections.schemas.js'

export function toCollectionSummary (row: CollectionRow): CollectionSummary {
  return {
    id: row.id,
    ownerId: row.ownerId,
    name: row.name,
    description: row.description,
    visibility: row.visibility as CollectionSummary['visibility'],
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString()
  }
}

/** Collections follow the cards' visibility rules (without moderation). */
const canRead = (row: CollectionRow, viewer: Viewer): boolean =>
  canReadCard({ ownerId: row.ownerId, visibility: row.visibility, hidden: false }, viewer)

export class CollectionService {
  constructor (private readonly collections: CollectionRepository, private readonly cards: CardRepository) {}

  async create (user: AuthUser, input: CreateCollection): Promise<Collection> {
    const row = await this.collections.create({
      ownerId: user.id,
      name: input.name,
      description: input.description ?? '',
      visibility: input.visibility ?? 'public'
    }, (row) => [collectionCreated(row)])
    return { ...toCollectionSummary(row), cards: [] }
  }

  private async readable (id: string, viewer: Viewer): Promise<CollectionRow> {
    const row = await this.collections.find(id)
    if (row === null || !canRead(row, viewer)) throw errors.COLLECTION_NOT_FOUND()
    return row
  }

  private async owned (id: string, user: AuthUser, allowStaff = false): Promise<CollectionRow> {
    const row = await this.readable(id, user)
    if (row.ownerId !== user.id && !(allowStaff && can(user, 'collections.delete_any'))) throw commonErrors.NOT_OWNER('collection')
    return row
  }

  /** The collection with the cards `viewer` may see, in order; the others are left out without a trace. */
  async get (id: string, viewer: Viewer): Promise<Collection> {
    return await this.render(await this.readable(id, viewer), viewer)
  }

  private async render (row: CollectionRow, viewer: Viewer): Promise<Collection> {
    const rows = (await this.cards.findMany(await this.collections.cardIds(row.id)))
      .filter((c) => canReadCard(metaOf(c), viewer))
    let cards = rows.map(toCard)
    if (viewer !== null) {
      const liked = await this.cards.likedAmong(viewer.id, cards.map((c) => c.id))
      cards = cards.map((c) => ({ ...c, likedByMe: liked.has(c.id) }))
    }
    return { ...toCollectionSummary(row), cards }
  }

  async update (id: string, user: AuthUser, input: UpdateCollection): Promise<Collection> {
    await this.owned(id, user)
    const row = await this.collections.update(id, input)
    if (row === null) throw errors.COLLECTION_NOT_FOUND()
    return await this.render(row, user)
  }

  async remove (id: string, user: AuthUser): Promise<void> {
    await this.owned(id, user, true)
    if (!await this.collections.delete(id)) throw errors.COLLECTION_NOT_FOUND()
  }

  async putCard (id: string, cardId: string, user: AuthUser, position: number | undefined): Promise<void> {
    const collection = await this.owned(id, user)
    const card = await this.cards.find(cardId)
    if (card === null || !canReadCard(metaOf(card), user)) throw errors.CARD_NOT_FOUND()
    const outcome = await this.collections.putCard(id, cardId, position, cardAdded(collection, cardId))
    if (outcome === 'full') throw errors.COLLECTION_FULL(MAX_CARDS)
  }

  async removeCard (id: string, cardId: string, user: AuthUser): Promise<void> {
    const collection = await this.owned(id, user)
    await this.collections.removeCard(id, cardId, [cardRemoved(collection, cardId)])
  }

  async list (
    query: ListCollectionsQuery,
    viewer: Viewer
  ): Promise<{ items: CollectionSummary[], nextCursor: string | null }> {
    let ownerId = query.ownerId
    if (ownerId === 'me') {
      if (viewer === null) throw commonErrors.UNAUTHORIZED('ownerId=me needs an access token')
      ownerId = viewer.id
    }
    const limit = query.limit ?? 20
    const rows = await this.collections.list({
      scope: viewer !== null && ownerId === viewer.id ? 'own' : 'listed',
      ownerId,
      after: query.cursor === undefined ? undefined : decodeTimeCursor(query.cursor, 'c'),
      limit
    })
    const p = page(rows, limit, toCollectionSummary, (r) => encodeCursor('c', [r.createdAt.toISOString(), r.id]))
    return { items: p.items, nextCursor: p.nextCursor }
  }
}
