import { can, commonErrors, decodeTimeCursor, encodeCursor, page, type AuthUser } from '@holo/shared'
import { errors } from '../../errors.js'
import type { Viewer } from '../cards/cards.service.js'
import type { TemplateChanges, TemplateRepository, TemplateRow } from './templates.repository.js'
import { templateCreated, templateStatusChanged } from './templates.events.js'
import type { CreateTemplate, ListTemplatesQuery, Template, UpdateTemplate } from './templates.schemas.js'

export function toTemplate (row: TemplateRow): Template {
  return {
    id: row.id,
    authorId: row.authorId,
    name: row.name,
    description: row.description,
    layout: row.layout as Template['layout'],
    holoDefaults: row.holoDefaults as Template['holoDefaults'],
    status: row.status as Template['status'],
    premium: row.premium,
    price: row.priceAmount === null || row.priceCurrency === null
      ? null
      : { amount: row.priceAmount, currency: row.priceCurrency },
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString()
  }
}

const isAuthor = (row: TemplateRow, viewer: Viewer): boolean =>
  viewer !== null && (viewer.id === row.authorId || can(viewer, 'templates.manage'))

export class TemplateService {
  constructor (private readonly templates: TemplateRepository) {}

  async create (user: AuthUser, input: CreateTemplate): Promise<Template> {
    const premium = input.premium ?? false
    const price = input.price ?? null
    if (price !== null && !premium) throw errors.VALIDATION_FAILED('price', 'body', 'is only for a premium template (premium: true)')
    const row = await this.templates.create({
      authorId: user.id,
      name: input.name,
      description: input.description ?? '',
      layout: input.layout,
      holoDefaults: input.holoDefaults ?? {},
      status: input.status ?? 'draft',
      premium,
      priceAmount: price?.amount ?? null,
      priceCurrency: price?.currency ?? null
    }, templateCreated(user.id))
    return toTemplate(row)
  }

  /** Drafts are their author's (and admins') only; published and archived ones anyone may read. */
  private async readable (id: string, viewer: Viewer): Promise<TemplateRow> {
    const row = await this.templates.find(id)
    if (row === null || (row.status === 'draft' && !isAuthor(row, viewer))) throw errors.TEMPLATE_NOT_FOUND()
    return row
  }

  async get (id: string, viewer: Viewer): Promise<Template> {
    return toTemplate(await this.readable(id, viewer))
  }

  async update (id: string, user: AuthUser, input: UpdateTemplate): Promise<Template> {
    const row = await this.readable(id, user)
    if (!isAuthor(row, user)) throw commonErrors.NOT_OWNER('template')
    const { price, ...rest } = input
    const changes: TemplateChanges = { ...rest }
    const premium = input.premium ?? row.premium
    if (price !== undefined && price !== null && !premium) {
      throw errors.VALIDATION_FAILED('price', 'body', 'is only for a premium template (premium: true)')
    }
    if (price !== undefined) {
      changes.priceAmount = price?.amount ?? null
      changes.priceCurrency = price?.currency ?? null
    } else if (!premium) {
      // A template that stops being premium is no longer for sale.
      changes.priceAmount = null
      changes.priceCurrency = null
    }
    const updated = await this.templates.update(id, changes, templateStatusChanged(user.id))
    if (updated === null) throw errors.TEMPLATE_NOT_FOUND()
    return toTemplate(updated)
  }

  /** Deletes, or archives when cards use it (their holo values were copied, the reference stays). */
  async remove (id: string, user: AuthUser): Promise<'deleted' | 'archived'> {
    const row = await this.readable(id, user)
    if (!isAuthor(row, user)) throw commonErrors.NOT_OWNER('template')
    const outcome = await this.templates.deleteOrArchive(id, templateStatusChanged(user.id))
    if (outcome === null) throw errors.TEMPLATE_NOT_FOUND()
    return outcome
  }

  async list (query: ListTemplatesQuery, viewer: Viewer): Promise<{ items: Template[], nextCursor: string | null }> {
    const status = query.status ?? 'published'
    let authorId = query.authorId
    if (authorId === 'me') {
      if (viewer === null) throw commonErrors.UNAUTHORIZED('authorId=me needs an access token')
      authorId = viewer.id
    }
    // Only published templates are public; other statuses list the caller's own (all, for admins).
    if (status !== 'published' && !can(viewer, 'templates.manage')) {
      if (viewer === null) throw commonErrors.UNAUTHORIZED(`Listing ${status} templates needs an access token`)
      if (authorId !== undefined && authorId !== viewer.id) {
        throw commonErrors.FORBIDDEN(`Only the author may list their ${status} templates`)
      }
      authorId = viewer.id
    }
    const limit = query.limit ?? 20
    const after = query.cursor === undefined ? undefined : decodeTimeCursor(query.cursor, 't')
    const rows = await this.templates.list({ status, authorId, q: query.q, after, limit })
    const p = page(rows, limit, toTemplate, (r) => encodeCursor('t', [r.createdAt.toISOString(), r.id]))
    return { items: p.items, nextCursor: p.nextCursor }
  }
}
