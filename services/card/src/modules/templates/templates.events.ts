// What the card service tells the rest of the system about templates (docs/events.md).
import type { HoloEvent } from '@holo/events'
import { event } from '@holo/shared'
import type { TemplateRow } from './templates.repository.js'

const statusEvent = (t: TemplateRow, actorId: string): HoloEvent[] => {
  if (t.status === 'published') {
    return [event('holo.template.published.v1', { subject: t.id, actorId, data: { authorId: t.authorId } })]
  }
  if (t.status === 'archived') {
    return [event('holo.template.archived.v1', { subject: t.id, actorId, data: { authorId: t.authorId } })]
  }
  return []
}

/** template.created, and template.published or .archived when it starts in that status. */
export const templateCreated = (actorId: string) => (t: TemplateRow): HoloEvent[] => [
  event('holo.template.created.v1', {
    subject: t.id, actorId, data: { authorId: t.authorId, name: t.name, premium: t.premium }
  }),
  ...statusEvent(t, actorId)
]

/** template.published or .archived when the status moved there; edits of other fields publish nothing. */
export const templateStatusChanged = (actorId: string) => (before: TemplateRow, after: TemplateRow): HoloEvent[] =>
  before.status === after.status ? [] : statusEvent(after, actorId)
