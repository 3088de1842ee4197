// The card service owns templates and their prices: a checkout asks it for the template's current price and
// author (its public read), so the price always comes from the server, never from the client.

export interface TemplateOffer {
  id: string
  authorId: string
  name: string
  status: string
  premium: boolean
  price: { amount: number, currency: string } | null
}

/** The card service did not answer usefully: the shared problem handler answers 503 naming it. */
export class CardServiceUnavailableError extends Error {
  override name = 'CardServiceUnavailableError'
  readonly dependency = 'card'
}

export type TemplateCatalog = (templateId: string, requestId: string) => Promise<TemplateOffer | null>

export function cardTemplateCatalog (o: { baseUrl: string, timeoutMs: number }): TemplateCatalog {
  const base = o.baseUrl.endsWith('/') ? o.baseUrl : `${o.baseUrl}/`
  return async (templateId, requestId) => {
    let res: Response
    try {
      res = await fetch(new URL(`api/v1/templates/${encodeURIComponent(templateId)}`, base), {
        headers: { accept: 'application/json', 'x-request-id': requestId },
        redirect: 'error',
        signal: AbortSignal.timeout(o.timeoutMs)
      })
    } catch (err) {
      throw new CardServiceUnavailableError(`the card service did not answer: ${(err as Error).message}`, { cause: err })
    }
    if (res.status === 404 || res.status === 400) { await res.arrayBuffer(); return null }
    if (res.status !== 200) {
      await res.arrayBuffer()
      throw new CardServiceUnavailableError(`the card service answered ${res.status}`)
    }
    const t = await res.json() as Partial<TemplateOffer>
    if (typeof t.id !== 'string' || typeof t.authorId !== 'string' || typeof t.status !== 'string') {
      throw new CardServiceUnavailableError('the card service answered with something that is not a template')
    }
    const price = t.price !== null && typeof t.price === 'object' && Number.isSafeInteger(t.price.amount) &&
      typeof t.price.currency === 'string'
      ? { amount: t.price.amount, currency: t.price.currency }
      : null
    return { id: t.id, authorId: t.authorId, name: String(t.name ?? ''), status: t.status, premium: t.premium === true, price }
  }
}
