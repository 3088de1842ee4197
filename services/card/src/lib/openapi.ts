import { Type, type TSchema } from 'typebox'

export const security: Array<Record<string, string[]>> = [{ bearerAuth: [] }]
/** Works without a token; with one, the answer is personal. */
export const optionalSecurity: Array<Record<string, string[]>> = [{}, { bearerAuth: [] }]
export const NoContent = Type.Null({ description: 'Done' })
export const NotModified = Type.Null({ description: 'Not modified: your copy (If-None-Match) is current' })

/** A keyset page: the items and the cursor of the next page (null on the last). */
export const pageOf = <T extends TSchema>(item: T) => Type.Object({
  items: Type.Array(item),
  nextCursor: Type.Union([Type.String({ description: 'Opaque; pass as cursor for the next page' }), Type.Null()])
})
