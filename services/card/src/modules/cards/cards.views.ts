import { hashEtag } from '@holo/shared'
import type { Card } from './cards.schemas.js'

/**
 * A card or a page of cards as one reader sees it, serialised once. `tag` names exactly this
 * representation (the route makes it the ETag); `personal` says it holds the reader's likedByMe.
 */
export interface JsonView { json: string, tag: string, personal: boolean }

/** A card's JSON with likedByMe added, without parsing it (the JSON is an object: it ends with '}'). */
export const withLikedByMe = (json: string, liked: boolean): string =>
  `${json.slice(0, -1)},"likedByMe":${String(liked)}}`

/**
 * A card's tag: its version (bumped by every change to the card) and its like count (likes do not
 * touch the card row), plus likedByMe for a signed-in reader: `v3.c12`, `v3.c12.l1`.
 */
export const cardTag = (row: { version: number, likeCount: number }): string => `v${row.version}.c${row.likeCount}`
export const personalTag = (tag: string, liked: boolean): string => `${tag}.l${liked ? 1 : 0}`

/** The card version a tag names (any of the forms above), or null when it names none. */
export function versionOfTag (tag: string): number | null {
  const m = /^v(\d+)(?:\.c\d+)?(?:\.l[01])?$/.exec(tag)
  return m === null ? null : Number(m[1])
}

/**
 * A page of cards serialised once, each card's JSON kept apart: a signed-in reader's likedByMe
 * is spliced in without parsing or serialising the page again.
 */
export interface PageJson {
  /** The hash of the page as an anonymous reader gets it, quoted (the form the list cache holds). */
  hash: string
  ids: string[]
  items: string[]
  nextCursor: string | null
}

const bodyOf = (items: string[], nextCursor: string | null): string =>
  `{"items":[${items.join(',')}],"nextCursor":${JSON.stringify(nextCursor)}}`

export function toPageJson (cards: Card[], nextCursor: string | null): PageJson {
  const items = cards.map((c) => JSON.stringify(c))
  return { hash: hashEtag(bodyOf(items, nextCursor)), ids: cards.map((c) => c.id), items, nextCursor }
}

/** The page for an anonymous reader, or with likedByMe from `liked` (the reader's likes among its cards). */
export function pageView (p: PageJson, liked?: Set<string>): JsonView {
  const hash = p.hash.slice(1, -1)
  if (liked === undefined) return { json: bodyOf(p.items, p.nextCursor), tag: hash, personal: false }
  const flags = p.ids.map((id) => liked.has(id))
  return {
    json: bodyOf(p.items.map((json, i) => withLikedByMe(json, flags[i] === true)), p.nextCursor),
    // The shared page's hash plus which of its cards this reader likes.
    tag: `${hash}.${flags.map((f) => (f ? '1' : '0')).join('')}`,
    personal: true
  }
}

/** Cache form: a line each for the hash, the cursor and the ids, then one per card (JSON holds no raw newline). */
export const encodePage = (p: PageJson): string => [p.hash, p.nextCursor ?? '', p.ids.join(','), ...p.items].join('\n')

export function decodePage (value: string): PageJson | undefined {
  const [hash, next, ids, ...items] = value.split('\n')
  if (hash === undefined || next === undefined || ids === undefined) return undefined
  const idList = ids === '' ? [] : ids.split(',')
  if (idList.length !== items.length) return undefined
  return { hash, nextCursor: next === '' ? null : next, ids: idList, items }
}
