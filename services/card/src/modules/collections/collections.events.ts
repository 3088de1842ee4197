// What the card service tells the rest of the system about collections (docs/events.md).
import type { HoloEvent } from '@holo/events'
import { event } from '@holo/shared'
import type { CollectionRow } from './collections.repository.js'

type Visibility = 'public' | 'unlisted' | 'private'

export const collectionCreated = (c: CollectionRow): HoloEvent<'holo.collection.created.v1'> =>
  event('holo.collection.created.v1', {
    subject: c.id, actorId: c.ownerId, data: { ownerId: c.ownerId, name: c.name, visibility: c.visibility as Visibility }
  })

export const cardAdded = (c: CollectionRow, cardId: string) => (position: number): HoloEvent[] => [
  event('holo.collection.card_added.v1', { subject: c.id, actorId: c.ownerId, data: { ownerId: c.ownerId, cardId, position } })
]

export const cardRemoved = (c: CollectionRow, cardId: string): HoloEvent<'holo.collection.card_removed.v1'> =>
  event('holo.collection.card_removed.v1', { subject: c.id, actorId: c.ownerId, data: { ownerId: c.ownerId, cardId } })
