import { hashEtag } from '../../lib/etag.js'
import type { Rendered } from '../../lib/http.js'
import type { Card } from './cards.schemas.js'

/** A card's JSON with likedByMe added, without parsing it (the JSON is an object: it ends with '}'). */
export const withLikedByMe = (json: string, liked: boolean): string => `${json.slice(0, -1)},"likedByMe":${String(liked)}}`

/**
 * A page of cards serialised once, each card's JSON kept apart: a signed-in
 * caller's likedByMe is spliced in without parsing or serialising the page again.
 */
export interface PageJson {
  /** The ETag of the page as an anonymous caller gets it. */
  etag: string
  ids: string[]
  items: string[]
  nextCursor: string | null
}

const bodyOf = (items: string[], nextCursor: string | null): string =>
  `{"items":[${items.join(',')}],"nextCursor":${JSON.stringify(nextCursor)}}`

export function toPageJson (cards: Card[], nextCursor: string | null): PageJson {
  const items = cards.map((c) => JSON.stringify(c))
  return { etag: hashEtag(bodyOf(items, nextCursor)), ids: cards.map((c) => c.id), items, nextCursor }
}

/** The page for an anonymous caller, or with likedByMe from `liked` (the caller's likes among its cards). */
export function renderPage (p: PageJson, liked?: Set<string>): Rendered {
  if (liked === undefined) return { body: bodyOf(p.items, p.nextCursor), etag: p.etag, cacheControl: 'public, no-cache' }
  const flags = p.ids.map((id) => liked.has(id))
  return {
    body: bodyOf(p.items.map((json, i) => withLikedByMe(json, flags[i] === true)), p.nextCursor),
    // The shared page's tag plus which of its cards this caller likes.
    etag: `${p.etag.slice(0, -1)}.${flags.map((f) => (f ? '1' : '0')).join('')}"`,
    cacheControl: 'private, no-cache'
  }
}

/** Cache form: a line each for the ETag, the cursor and the ids, then one per card (JSON never holds a raw newline). */
export const encodePage = (p: PageJson): string => [p.etag, p.nextCursor ?? '', p.ids.join(','), ...p.items].join('\n')

export function decodePage (value: string): PageJson | undefined {
  const [etag, next, ids, ...items] = value.split('\n')
  if (etag === undefined || next === undefined || ids === undefined) return undefined
  const idList = ids === '' ? [] : ids.split(',')
  return idList.length === items.length ? { etag, nextCursor: next === '' ? null : next, ids: idList, items } : undefined
}
