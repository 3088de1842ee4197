// What the card service tells the rest of the system about cards (docs/events.md has the catalogue).
// Each is made in the service layer, in the request's own flow, and written in the change's transaction.
import type { HoloEvent } from '@holo/events'
import { event } from '@holo/shared'
import type { CardRow, NewCard } from './cards.repository.js'

type Visibility = 'public' | 'unlisted' | 'private'

export const cardCreated = (c: NewCard): HoloEvent<'holo.card.created.v1'> =>
  event('holo.card.created.v1', {
    subject: c.id,
    actorId: c.ownerId,
    data: {
      ownerId: c.ownerId,
      title: c.title,
      visibility: c.visibility as Visibility,
      rarity: c.rarity,
      templateId: c.templateId,
      artworkFileId: c.artworkFileId
    }
  })

/** The fields an update can change, in the order events name them. */
const FIELDS = ['title', 'description', 'artworkFileId', 'holo', 'rarity', 'tags', 'visibility'] as const

/** card.updated naming what changed (and card.visibility_changed beside it); nothing when nothing changed. */
export function cardEdited (before: CardRow, after: CardRow, actorId: string): HoloEvent[] {
  const changed = FIELDS.filter((f) => JSON.stringify(before[f]) !== JSON.stringify(after[f]))
  if (changed.length === 0) return []
  const events: HoloEvent[] = [event('holo.card.updated.v1', {
    subject: after.id,
    actorId,
    data: {
      ownerId: after.ownerId,
      version: after.version,
      changed: [...changed],
      ...(changed.includes('title') ? { title: after.title } : {})
    }
  })]
  if (before.visibility !== after.visibility) {
    events.push(event('holo.card.visibility_changed.v1', {
      subject: after.id,
      actorId,
      data: {
        ownerId: after.ownerId,
        visibility: after.visibility as Visibility,
        previousVisibility: before.visibility as Visibility
      }
    }))
  }
  return events
}

export const cardDeleted = (c: CardRow, actorId: string): HoloEvent<'holo.card.deleted.v1'> =>
  event('holo.card.deleted.v1', { subject: c.id, actorId, data: { ownerId: c.ownerId } })

/** A like's or an unlike's event, once the statement that made it knows the card's owner and new count. */
export const cardLiked = (cardId: string, on: boolean, likerId: string) =>
  (card: { ownerId: string, likeCount: number }): HoloEvent<'holo.card.liked.v1' | 'holo.card.unliked.v1'> =>
    event(on ? 'holo.card.liked.v1' : 'holo.card.unliked.v1', {
      subject: cardId, actorId: likerId, data: { ownerId: card.ownerId, likeCount: card.likeCount }
    })

/**
 * Hidden or shown again by a moderator, or hidden automatically by enough reports (`automatic`, the actor then
 * being the reporter who reached the threshold); nothing when it already was.
 */
export const cardModerated = (moderatorId: string, reason?: string, automatic = false) =>
  (before: CardRow, after: CardRow): HoloEvent[] => {
    const hidden = after.hiddenAt !== null
    if (hidden === (before.hiddenAt !== null)) return []
    return [hidden
      ? event('holo.card.hidden.v1', {
        subject: after.id,
        actorId: moderatorId,
        data: {
          ownerId: after.ownerId,
          ...(reason !== undefined ? { reason } : {}),
          ...(automatic ? { automatic } : {})
        }
      })
      : event('holo.card.unhidden.v1', { subject: after.id, actorId: moderatorId, data: { ownerId: after.ownerId } })]
  }
