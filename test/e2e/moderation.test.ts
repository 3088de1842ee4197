// Reports and moderation end to end, with auth, card, audit and notification real and in-process behind the real
// nginx, driven with the typed client: users report a card, a moderator (promoted by the administrator) reads the
// queue and resolves it; the hides take effect through the gateway at once; every report and decision lands in the
// audit log, where a moderator may read it; reporters and the owner find their notifications in their inboxes.
import t from 'tap'
import { createHoloClient, type HoloClient } from '@holo/api-client'
import { testDatabase, testGateway, testRedisUrl } from '@holo/infra/testing'
import { eventually, startBusStack } from './helpers.js'

const ADMIN = { email: 'mod-admin@example.test', password: 'moderation admin passphrase' }

const db = await testDatabase(t)
const { upstreams } = await startBusStack(t, {
  db,
  redisUrl: testRedisUrl(),
  admin: ADMIN,
  services: ['card', 'audit', 'notification'],
  env: { card: { MODERATION_AUTO_HIDE_REPORTS: '2' } }
})
const gateway = await testGateway(t, upstreams)

interface Person { id: string, api: HoloClient }

async function signIn (email: string, password: string): Promise<Person> {
  const api = createHoloClient(gateway.url)
  const { data, response } = await api.auth.POST('/api/v1/auth/login', { body: { email, password } })
  if (data === undefined) throw new Error(`login of ${email}: ${response.status}`)
  api.setAccessToken(data.accessToken)
  return { id: data.user.id, api }
}

async function register (name: string): Promise<Person> {
  const api = createHoloClient(gateway.url)
  const { data, response } = await api.auth.POST('/api/v1/auth/register', {
    body: { email: `${name}@example.test`, username: name, password: `${name} passphrase 1` }
  })
  if (data === undefined) throw new Error(`register ${name}: ${response.status}`)
  api.setAccessToken(data.accessToken)
  return { id: data.user.id, api }
}

const admin = await signIn(ADMIN.email, ADMIN.password)
const [owner, alice, bob, stranger] = await Promise.all(['olga', 'alice', 'bob', 'stan'].map(register))
// The administrator makes Maya a moderator; her next sign-in carries the role.
await register('maya')
const maya = (await admin.api.auth.GET('/api/v1/auth/users', { params: { query: { q: 'maya' } } })).data?.items[0]
const promoted = await admin.api.auth.PATCH('/api/v1/auth/users/{id}', {
  params: { path: { id: maya?.id as string } }, body: { roles: ['user', 'moderator'] }
})
if (promoted.response.status !== 200) throw new Error(`promotion: ${promoted.response.status}`)
const mod = await signIn('maya@example.test', 'maya passphrase 1')
const anonymous = createHoloClient(gateway.url)

const make = async (title: string): Promise<string> => {
  const { data } = await (owner as Person).api.card.POST('/api/v1/cards', { body: { title, tags: ['gremlin'] } })
  return data?.id as string
}
const report = async (who: Person, id: string, reason: 'spam' | 'nsfw' | 'harassment' = 'spam') =>
  await who.api.card.POST('/api/v1/cards/{id}/reports', { params: { path: { id } }, body: { reason } })
const read = async (api: HoloClient, id: string): Promise<number> =>
  (await api.card.GET('/api/v1/cards/{id}', { params: { path: { id } } })).response.status
const inbox = async (who: Person) =>
  (await who.api.notification.GET('/api/v1/notifications', { params: { query: { limit: 100 } } })).data?.items ?? []
const auditOf = async (who: Person, subject: string) =>
  (await who.api.audit.GET('/api/v1/audit/events', { params: { query: { subject, limit: 100 } } })).data?.items ?? []

t.test('report, queue, warn: the reporter and the owner are told, audit keeps it', async (t) => {
  const id = await make('Gateway Gremlin')
  const first = await report(alice as Person, id, 'harassment')
  t.equal(first.response.status, 201)
  t.match(first.data, { cardId: id, reason: 'harassment', status: 'open' })
  t.equal((await report(alice as Person, id)).response.status, 409, 'one open report per user and card')
  t.equal((await report(owner as Person, id)).response.status, 400, 'not one\'s own card')
  t.equal((await report(alice as Person, '00000000-0000-4000-8000-000000000000')).response.status, 404)
  t.equal((await anonymous.card.POST('/api/v1/cards/{id}/reports', {
    params: { path: { id } }, body: { reason: 'spam' }
  })).response.status, 401)

  t.equal((await (stranger as Person).api.card.GET('/api/v1/moderation/reports', {})).response.status, 403,
    'a user cannot read the queue')
  const queue = await mod.api.card.GET('/api/v1/moderation/reports', { params: { query: { status: 'open' } } })
  t.equal(queue.response.status, 200, 'a moderator promoted at run time can')
  t.match(queue.data?.items, [{ cardId: id, count: 1, reasons: ['harassment'], card: { title: 'Gateway Gremlin' } }])

  const resolved = await mod.api.card.POST('/api/v1/moderation/reports/{id}/resolve', {
    params: { path: { id: first.data?.id as string } }, body: { action: 'warn', note: 'Keep it civil' }
  })
  t.same(resolved.data, { cardId: id, action: 'warn', resolved: 1, hidden: false })
  t.equal(await read(anonymous, id), 200, 'a warning leaves the card visible')

  t.ok(await eventually(async () => (await inbox(owner as Person)).some((n) => n.type === 'card.warned')),
    'the owner got the warning')
  t.match((await inbox(owner as Person)).find((n) => n.type === 'card.warned'), {
    title: 'You got a warning about Gateway Gremlin', data: { cardId: id, note: 'Keep it civil' }
  })
  t.ok(await eventually(async () => (await inbox(alice as Person)).some((n) => n.type === 'report.resolved')),
    'the reporter learned the outcome')
  t.ok(await eventually(async () => (await auditOf(admin, id)).length === 3), 'audit logged create, report, warn')
  t.same((await auditOf(mod, id)).map((e) => [e.type, e.actorId]), [
    ['holo.card.reports_resolved.v1', mod.id],
    ['holo.card.reported.v1', alice?.id]
  ], 'a moderator reads the report events (not the create)')
})

t.test('two reporters hide a card pending review; a moderator confirms; others lose it at once', async (t) => {
  const id = await make('Gremlin Twice')
  for (const api of [anonymous, (stranger as Person).api]) {
    t.equal(await read(api, id), 200)
    // A new card joins pages others read within LIST_CACHE_REFRESH_MS: then the page is cached with it.
    t.ok(await eventually(async () => (await api.card.GET('/api/v1/cards', { params: { query: { tag: 'gremlin' } } }))
      .data?.items.some((c) => c.id === id) === true), 'listed (and the page cached)')
  }
  t.equal((await report(alice as Person, id)).response.status, 201)
  t.equal(await read(anonymous, id), 200, 'one report hides nothing')
  const second = await report(bob as Person, id, 'nsfw')
  t.equal(second.response.status, 201)

  for (const api of [anonymous, (stranger as Person).api]) {
    t.equal(await read(api, id), 404, 'hidden for others through the gateway')
    const page = await api.card.GET('/api/v1/cards', { params: { query: { tag: 'gremlin' } } })
    t.notOk(page.data?.items.some((c) => c.id === id), 'and gone from the listing')
    const search = await api.card.GET('/api/v1/cards', { params: { query: { q: 'twice' } } })
    t.notOk(search.data?.items.some((c) => c.id === id), 'and from search')
  }
  t.equal(await read((owner as Person).api, id), 200, 'its owner sees it')
  t.equal(await read(mod.api, id), 200, 'staff see it')
  t.ok(await eventually(async () => (await inbox(owner as Person))
    .some((n) => n.type === 'card.hidden' && n.data.cardId === id)), 'the owner was told')
  t.match((await inbox(owner as Person)).find((n) => n.type === 'card.hidden' && n.data.cardId === id), {
    title: 'Gremlin Twice is hidden pending review', data: { automatic: true }
  })

  const resolved = await mod.api.card.POST('/api/v1/moderation/reports/{id}/resolve', {
    params: { path: { id: second.data?.id as string } }, body: { action: 'hide', note: 'Not for here' }
  })
  t.same(resolved.data, { cardId: id, action: 'hide', resolved: 2, hidden: true })
  const again = await mod.api.card.POST('/api/v1/moderation/reports/{id}/resolve', {
    params: { path: { id: second.data?.id as string } }, body: { action: 'dismiss' }
  })
  t.equal(again.response.status, 409, 'resolved already')
  t.equal(await read(anonymous, id), 404, 'still hidden')

  for (const who of [alice, bob] as Person[]) {
    t.ok(await eventually(async () => (await inbox(who))
      .some((n) => n.type === 'report.resolved' && n.data.cardId === id && n.data.action === 'hide')),
    'each reporter learned the card was hidden')
  }
  t.ok(await eventually(async () => (await auditOf(admin, id)).length === 5), 'audit logged every step')
  t.same((await auditOf(admin, id)).map((e) => e.type).reverse(), [
    'holo.card.created.v1', 'holo.card.reported.v1', 'holo.card.reported.v1', 'holo.card.hidden.v1',
    'holo.card.reports_resolved.v1'
  ])
  const hide = (await auditOf(admin, id)).find((e) => e.type === 'holo.card.hidden.v1')
  t.match(hide, { actorId: bob?.id, requestId: second.response.headers.get('x-request-id') },
    'the automatic hide, traced to the report that reached the threshold')
  const verify = await admin.api.audit.GET('/api/v1/audit/verify', {})
  t.match(verify.data, { ok: true }, 'the chain verifies')
})
