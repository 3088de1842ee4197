import { commonErrors, decodeCursor, encodeCursor, page } from '@holo/shared'
import type { EventsAdmin } from '@holo/events'
import { errors } from '../../errors.js'
import type { Consumers, DeadLetterItem, DeadLetterPage, ListDeadLettersQuery, Replayed } from './events.schemas.js'

const CURSOR_KIND = 'd'
const ENTRY_ID = /^\d{1,20}-\d{1,20}$/

/** The bus's operations (issue 11): consumer groups' positions, dead letters listed and replayed. */
export class EventsAdminService {
  constructor (private readonly admin: EventsAdmin) {}

  async consumers (): Promise<Consumers> {
    return { groups: await this.admin.allConsumerStats() }
  }

  /** Oldest first; the cursor names the group and the last entry, so it only continues the same group's list. */
  async deadLetters (query: ListDeadLettersQuery): Promise<DeadLetterPage> {
    const limit = query.limit ?? 20
    let after: string | undefined
    if (query.cursor !== undefined) {
      const [group, id] = decodeCursor(query.cursor, CURSOR_KIND, ['s', 's']) as [string, string]
      if (group !== query.group || !ENTRY_ID.test(id)) throw commonErrors.INVALID_CURSOR()
      after = id
    }
    const rows = await this.admin.listDeadLetters(query.group, { count: limit + 1, after })
    const p = page(rows, limit, (d): DeadLetterItem => d, (d) => encodeCursor(CURSOR_KIND, [query.group, d.id]))
    return { items: p.items, nextCursor: p.nextCursor }
  }

  async replayOne (id: string, group: string | undefined): Promise<Replayed> {
    let found: boolean
    try {
      found = await this.admin.replayDeadLetter(id, { group })
    } catch (err) {
      // The bus says so in words only (admin.ts).
      if (err instanceof Error && err.message.includes('exists in several groups')) {
        throw errors.DEAD_LETTER_AMBIGUOUS(id)
      }
      throw err
    }
    if (!found) throw errors.DEAD_LETTER_NOT_FOUND(id)
    return { replayed: 1 }
  }

  async replayAll (group: string): Promise<Replayed> {
    return { replayed: await this.admin.replayAll(group) }
  }
}
