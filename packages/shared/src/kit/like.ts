/**
 * A search term as a LIKE pattern matching itself. Prisma's `contains` is ILIKE '%…%' and passes %, _ and
 * backslash through, and ILIKE's default escape character is the backslash: each gets one in front.
 */
export const likeLiteral = (term: string): string => term.replace(/[\\%_]/g, '\\$&')
