import type { Card, Holo } from './cards.schemas.js'
import type { CardRow } from './cards.repository.js'

export const DEFAULT_HOLO: Holo = { effect: 'none', intensity: 0.5, angle: 0, pattern: null, colors: [] }

/** The stored holo JSON as the API's full holo object (missing fields take the defaults). */
export function toHolo (value: unknown): Holo {
  const h = (value ?? {}) as Partial<Holo>
  return {
    effect: h.effect ?? DEFAULT_HOLO.effect,
    intensity: h.intensity ?? DEFAULT_HOLO.intensity,
    angle: h.angle ?? DEFAULT_HOLO.angle,
    pattern: h.pattern ?? null,
    colors: h.colors ?? []
  }
}

export function toCard (row: CardRow): Card {
  return {
    id: row.id,
    ownerId: row.ownerId,
    title: row.title,
    description: row.description,
    templateId: row.templateId,
    artworkFileId: row.artworkFileId,
    holo: toHolo(row.holo),
    rarity: row.rarity as Card['rarity'],
    tags: row.tags,
    visibility: row.visibility as Card['visibility'],
    likeCount: row.likeCount,
    hidden: row.hiddenAt !== null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString()
  }
}

/** Tags in lower case, each once, in the order given. */
export const normaliseTags = (tags: string[]): string[] => [...new Set(tags.map((t) => t.toLowerCase()))]
