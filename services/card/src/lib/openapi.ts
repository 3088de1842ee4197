import { Type } from 'typebox'

export const security: Array<Record<string, string[]>> = [{ bearerAuth: [] }]
/** Works without a token; with one, the answer is personal. */
export const optionalSecurity: Array<Record<string, string[]>> = [{}, { bearerAuth: [] }]
export const NoContent = Type.Null({ description: 'Done' })
export const NotModified = Type.Null({ description: 'Not modified: your copy (If-None-Match) is current' })
