import type { EventType } from '@holo/events'

/** What a moderator (who is not an administrator) may read of the log: moderation events, and nothing else. */
export const MODERATION_EVENT_TYPES: readonly EventType[] = [
  'holo.card.hidden.v1', 'holo.card.unhidden.v1', 'holo.card.reported.v1', 'holo.card.reports_resolved.v1'
]

/** `holo.card.liked.v1` → `holo.card.liked`. */
export const typeNameOf = (type: string): string => type.replace(/\.v[0-9]+$/, '')

/** Whether a type filter names a version (`holo.card.liked.v1`) rather than every version (`holo.card.liked`). */
export const isVersioned = (type: string): boolean => /\.v[0-9]+$/.test(type)
