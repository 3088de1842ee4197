// Template prices, and premium templates enforced from the card service's own copy of billing's entitlements
// (fed by holo.entitlement.* events on the bus, published here as billing's relay would).
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeEvent, type HoloEvent } from '@holo/events'
import { eventually as poll } from '@holo/infra/testing'
import { TemplateExample } from '../src/modules/templates/templates.schemas.js'
import { buildTestApp, type TestApp, type TestUser } from './helper.js'

const { layout } = TemplateExample

/** Polls until `fn` holds (about 15 s at most); throws naming what it waited for. */
async function eventually (fn: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000): Promise<void> {
  if (!await poll(fn, { tries: Math.ceil(timeoutMs / 50), intervalMs: 50 })) throw new Error(`timed out waiting for ${what}`)
}

async function template (ta: TestApp, author: TestUser, body: Record<string, unknown>): Promise<Record<string, any>> {
  const res = await ta.app.inject({
    method: 'POST', url: '/api/v1/templates', headers: author.auth, payload: { name: 'Premium', layout, status: 'published', ...body }
  })
  if (res.statusCode !== 201) throw new Error(`template create failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

const publish = async (ta: TestApp, ...events: HoloEvent[]): Promise<void> => {
  for (const e of events) await ta.deps.redis.xadd(`${ta.config.EVENTS_STREAM_PREFIX}billing`, '*', 'event', JSON.stringify(e))
}

const granted = (id: string, userId: string, templateId: string | null, validUntil: Date | null, seq: number) => ({
  ...makeEvent('holo.entitlement.granted.v1', {
    subject: id,
    data: { userId, product: templateId === null ? 'holo-plus' : 'template', templateId, validUntil: validUntil?.toISOString() ?? null }
  }),
  subjectseq: seq
})
const revoked = (id: string, userId: string, templateId: string | null, seq: number) => ({
  ...makeEvent('holo.entitlement.revoked.v1', {
    subject: id,
    data: { userId, product: templateId === null ? 'holo-plus' : 'template', templateId, reason: 'refunded' }
  }),
  subjectseq: seq
})

t.test('template prices: integers in minor units, lower-case currency, premium only', async (t) => {
  const ta = await buildTestApp(t)
  const author = ta.user(['creator'])
  const other = ta.user(['creator'])
  const tpl = await template(ta, author, { premium: true, price: { amount: 499, currency: 'eur' } })
  t.same(tpl.price, { amount: 499, currency: 'eur' }, 'shown on create')
  const read = await ta.app.inject({ url: `/api/v1/templates/${tpl.id as string}` })
  t.same(read.json().price, { amount: 499, currency: 'eur' }, 'and on every read')
  const free = await template(ta, author, {})
  t.equal(free.price, null, 'a template without a price shows null')

  const bad = async (payload: Record<string, unknown>, field: string): Promise<void> => {
    const res = await ta.app.inject({ method: 'POST', url: '/api/v1/templates', headers: author.auth, payload: { name: 'x', layout, ...payload } })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.match(res.headers['content-type'], /application\/problem\+json/)
    t.ok((res.json().errors as Array<{ field: string }>).some((e) => e.field.startsWith(field)), `names ${field}`)
  }
  await bad({ premium: true, price: { amount: 4.99, currency: 'eur' } }, 'price.amount')
  await bad({ premium: true, price: { amount: 499, currency: 'EUR' } }, 'price.currency')
  await bad({ premium: true, price: { amount: 0, currency: 'eur' } }, 'price.amount')
  await bad({ premium: true, price: { amount: 499 } }, 'price.currency')
  await bad({ price: { amount: 499, currency: 'eur' } }, 'price')

  const patch = async (who: TestUser, id: string, payload: Record<string, unknown>) =>
    await ta.app.inject({ method: 'PATCH', url: `/api/v1/templates/${id}`, headers: who.auth, payload })
  t.same((await patch(author, tpl.id, { price: { amount: 999, currency: 'usd' } })).json().price, { amount: 999, currency: 'usd' },
    'the author changes the price')
  t.equal((await patch(other, tpl.id, { price: { amount: 1, currency: 'usd' } })).statusCode, 403, 'nobody else does')
  t.equal((await patch(ta.user(['admin']), tpl.id, { price: { amount: 1500, currency: 'usd' } })).statusCode, 200, 'admins do')
  t.equal((await patch(author, free.id, { price: { amount: 100, currency: 'eur' } })).statusCode, 400,
    'a price on a template that is not premium is refused')
  const both = await patch(author, free.id, { premium: true, price: { amount: 100, currency: 'eur' } })
  t.same(both.json().price, { amount: 100, currency: 'eur' }, 'premium and a price in one PATCH')
  const off = await patch(author, free.id, { premium: false })
  t.equal(off.json().price, null, 'premium: false takes the price off')
  t.equal((await patch(author, tpl.id, { price: null })).json().price, null, 'price: null takes it off')
})

t.test('premium templates need an entitlement, from the copy fed by billing\'s events', async (t) => {
  const ta = await buildTestApp(t)
  const author = ta.user(['creator'])
  const buyer = ta.user()
  const tpl = await template(ta, author, { premium: true, price: { amount: 499, currency: 'eur' } })
  const free = await template(ta, author, {})
  const create = async (who: TestUser, templateId: string) => await ta.app.inject({
    method: 'POST', url: '/api/v1/cards', headers: who.auth, payload: { title: 'Mine', templateId }
  })

  const refused = await create(buyer, tpl.id)
  t.equal(refused.statusCode, 403, 'no entitlement: 403')
  t.match(refused.headers['content-type'], /application\/problem\+json/)
  t.match(refused.json(), {
    code: 'ENTITLEMENT_REQUIRED',
    templateId: tpl.id,
    price: { amount: 499, currency: 'eur' },
    buy: [{ templateId: tpl.id }, { plan: 'holo-plus' }]
  }, 'the problem says what to buy')
  t.match(refused.json().detail, /4\.99 EUR/)
  t.equal((await create(buyer, free.id)).statusCode, 201, 'a free template needs nothing')
  t.equal((await create(author, tpl.id)).statusCode, 201, 'its author uses it')
  t.equal((await create(ta.user(['admin']), tpl.id)).statusCode, 201, 'so do administrators')

  const ent = randomUUID()
  await publish(ta, granted(ent, buyer.id, tpl.id, null, 1))
  await eventually(async () => (await create(buyer, tpl.id)).statusCode === 201, 'the grant to reach the card service')
  const card = (await create(buyer, tpl.id)).json()
  const edit = async () => await ta.app.inject({
    method: 'PATCH', url: `/api/v1/cards/${card.id as string}`, headers: buyer.auth, payload: { title: 'Edited' }
  })
  t.equal((await edit()).statusCode, 200, 'an entitled user edits a card on it')
  t.equal((await create(ta.user(), tpl.id)).statusCode, 403, 'another user is still refused')

  await publish(ta, revoked(ent, buyer.id, tpl.id, 2))
  await eventually(async () => (await create(buyer, tpl.id)).statusCode === 403, 'the revocation to reach the card service')
  t.equal((await edit()).statusCode, 403, 'and editing the card on it is refused again')
  // An older grant delivered again, late: the newer revocation stands.
  await publish(ta, granted(ent, buyer.id, tpl.id, null, 1))
  const probe = randomUUID()
  await publish(ta, granted(probe, randomUUID(), tpl.id, null, 1))
  await eventually(async () => (await ta.deps.prisma.entitlement.findUnique({ where: { id: probe } })) !== null, 'the probe')
  t.equal((await create(buyer, tpl.id)).statusCode, 403, 'an older event arriving late changes nothing')
})

t.test('Holo+ unlocks every premium template until its period ends, without waiting for an event', async (t) => {
  const ta = await buildTestApp(t)
  const author = ta.user(['creator'])
  const subscriber = ta.user()
  const [a, b] = [await template(ta, author, { premium: true }), await template(ta, author, { premium: true, price: { amount: 300, currency: 'usd' } })]
  const create = async (templateId: string) => (await ta.app.inject({
    method: 'POST', url: '/api/v1/cards', headers: subscriber.auth, payload: { title: 'Plus', templateId }
  })).statusCode
  // Out of order: the revocation of an earlier period (seq 1) arrives after the grant of this one (seq 2).
  const ent = randomUUID()
  const end = new Date(Date.now() + 2500)
  await publish(ta, granted(ent, subscriber.id, null, end, 2), revoked(ent, subscriber.id, null, 1))
  await eventually(async () => await create(a.id) === 201, 'the grant to arrive')
  t.equal(await create(b.id), 201, 'every premium template is usable')
  await eventually(async () => Date.now() > end.getTime(), 'the period to end', 10_000)
  const refusedAt = Date.now()
  t.equal(await create(a.id), 403, 'refused once the period ended, with no event')
  t.ok(refusedAt - end.getTime() < 5000, 'within 5 s of its end')
})
