// The documents match reality: a realistic journey through the real gateway
// in front of the three real services, made with the typed client (drift in a
// path, parameter or body breaks the typecheck), records every response; each
// one must be a documented status of its operation, with the documented
// Content-Type, and a body that validates against the documented schema of
// that operation, status and media type in the service's own /openapi.json.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { createHoloClient, type FilePaths } from '@holo/api-client'
import {
  eventually, freePort, testDatabase, testGateway, testMail, testRedisUrl, testS3, testStreamPrefix
} from '@holo/infra/testing'
import { startService, type AnyServiceName as ServiceName, type RunningService } from '../e2e/helpers.js'
import { startStripeStandin } from '../../packages/stripe-standin/src/index.js'
import { makeImage } from '../../services/file/test/helper.js'
import { resolveRefs, type Json, type JsonObject } from './schema-refs.js'

interface MediaType { schema?: Json }
interface ResponseObject { content?: Record<string, MediaType> }
interface Operation { responses?: Record<string, ResponseObject> }
interface Doc { paths: Record<string, Record<string, Operation>>, components?: JsonObject }

// ESM/CJS interop: the default export is the plugin under NodeNext.
const addFormats = (
  (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule
) as unknown as (ajv: Ajv2020) => Ajv2020

// ---- The stack: auth (real MailDev, a bootstrap admin), card, file (real S3), nginx.
const db = await testDatabase(t)
const s3 = await testS3(t)
const mail = await testMail(t)
const admin = {
  email: `admin-${randomUUID().slice(0, 8)}@example.test`,
  password: 'Admin passphrase for the contract test'
}
// The journey's own streams: the consumers below read what it does, and nothing else.
const bus = testStreamPrefix(t)
const auth = await startService(t, 'auth', {
  EVENTS_STREAM_PREFIX: bus,
  DATABASE_URL: db.urlFor('auth'),
  REDIS_URL: testRedisUrl(),
  RATE_LIMIT_NAMESPACE: `contract:${randomUUID()}:`,
  SMTP_URL: `smtp://127.0.0.1:${mail.smtpPort}`,
  BOOTSTRAP_ADMIN_EMAIL: admin.email,
  BOOTSTRAP_ADMIN_PASSWORD: admin.password,
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_TIME_COST: '1'
})
const trustAuth = {
  REDIS_URL: testRedisUrl(),
  AUTH_JWKS_URL: `${auth.url}/api/v1/auth/.well-known/jwks.json`,
  EVENTS_STREAM_PREFIX: bus
}
const FILE_MAX_BYTES = 64 * 1024
// Billing pays at the local Stripe stand-in, whose webhooks come back through the gateway.
const gatewayPort = await freePort()
const standin = await startStripeStandin({
  port: 0,
  secretKey: 'sk_test_contract',
  webhookSecret: 'whsec_contract',
  webhookUrl: `http://127.0.0.1:${gatewayPort}/api/v1/billing/webhooks/stripe`,
  prices: [{ id: 'price_contract_holo_plus', unitAmount: 499, currency: 'eur', productName: 'Holo+', recurring: true }]
})
t.teardown(() => standin.stop())
const cardService = await startService(t, 'card', { ...trustAuth, DATABASE_URL: db.urlFor('card') })
const services: Record<ServiceName, RunningService> = {
  auth,
  card: cardService,
  file: await startService(t, 'file', {
    ...trustAuth,
    DATABASE_URL: db.urlFor('file'),
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: `contract-${randomUUID().slice(0, 8)}`,
    FILE_MAX_BYTES: String(FILE_MAX_BYTES)
  }),
  notification: await startService(t, 'notification', {
    ...trustAuth, DATABASE_URL: db.urlFor('notification'), EVENTS_CONSUMER_ENABLED: 'true',
    SMTP_URL: `smtp://127.0.0.1:${mail.smtpPort}`
  }),
  analytics: await startService(t, 'analytics', {
    ...trustAuth, DATABASE_URL: db.urlFor('analytics'), EVENTS_CONSUMER_ENABLED: 'true'
  }),
  audit: await startService(t, 'audit', { ...trustAuth, DATABASE_URL: db.urlFor('audit'), EVENTS_CONSUMER_ENABLED: 'true' }),
  billing: await startService(t, 'billing', {
    ...trustAuth,
    DATABASE_URL: db.urlFor('billing'),
    CARD_SERVICE_URL: cardService.url,
    STRIPE_API_URL: standin.url,
    STRIPE_SECRET_KEY: 'sk_test_contract',
    STRIPE_WEBHOOK_SECRET: 'whsec_contract',
    STRIPE_HOLO_PLUS_PRICE: 'price_contract_holo_plus',
    PUBLIC_URL: `http://127.0.0.1:${gatewayPort}`
  })
}
const upstream = (s: RunningService): string => `127.0.0.1:${s.port}`
const gw = await testGateway(t, Object.fromEntries(
  Object.entries(services).map(([name, s]) => [name, upstream(s)])
) as Record<ServiceName, string>, { port: gatewayPort })

// ---- The documents, each from its own service, and the operation lookup built from them.
const docs = {} as Record<ServiceName, Doc>
for (const name of Object.keys(services) as ServiceName[]) {
  const res = await fetch(`${services[name].url}/openapi.json`)
  docs[name] = await res.json() as Doc
}

interface Route { service: ServiceName, method: string, template: string, regex: RegExp, params: number, op: Operation }
const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options'])
const routes: Route[] = []
for (const [service, doc] of Object.entries(docs) as Array<[ServiceName, Doc]>) {
  for (const [template, item] of Object.entries(doc.paths)) {
    const source = template.split(/(\{[^}]+\})/)
      .map((part) => /^\{[^}]+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
      .join('')
    for (const [method, op] of Object.entries(item)) {
      if (METHODS.has(method)) {
        routes.push({
          service,
          method: method.toUpperCase(),
          template,
          regex: new RegExp(`^${source}$`),
          params: (template.match(/\{/g) ?? []).length,
          op
        })
      }
    }
  }
}
// A literal segment wins over a parameter (/files/usage before /files/{id}).
routes.sort((a, b) => a.params - b.params)
const findRoute = (method: string, pathname: string): Route | undefined =>
  routes.find((r) => r.method === method && r.regex.test(pathname))

const ajv = new Ajv2020({ strict: false, allErrors: true })
addFormats(ajv)
ajv.addFormat('binary', true)
const compiled = new Map<string, ValidateFunction>()
function validatorFor (key: string, schema: Json): ValidateFunction {
  let v = compiled.get(key)
  if (v === undefined) { v = ajv.compile(schema as object); compiled.set(key, v) }
  return v
}

// ---- Recording: every response the journey receives through the gateway.
interface Recorded {
  method: string
  pathname: string
  status: number
  contentType: string
  text: string
  bytes: number
  note: string
}
const recorded: Recorded[] = []
let note = ''
async function recordingFetch (input: Request | string | URL, init?: RequestInit): Promise<Response> {
  const request = input instanceof Request ? input : new Request(input, init)
  const res = await fetch(request)
  const copy = await res.clone().arrayBuffer()
  const contentType = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? ''
  recorded.push({
    method: request.method,
    pathname: new URL(request.url).pathname,
    status: res.status,
    contentType,
    text: /json/.test(contentType) ? Buffer.from(copy).toString('utf8') : '',
    bytes: copy.byteLength,
    note
  })
  return res
}
const client = createHoloClient(gw.url, { fetch: recordingFetch })
const step = (what: string): void => { note = what }

/** Every way a recorded response disagrees with its service's document (empty: it matches). */
function mismatches (r: Recorded): string[] {
  const route = findRoute(r.method, r.pathname)
  if (route === undefined) return ['no documented operation matches']
  const responses = route.op.responses ?? {}
  const documented = responses[String(r.status)] ?? responses[`${String(r.status)[0]}XX`] ?? responses.default
  if (documented === undefined) return [`status ${r.status} is not documented (${Object.keys(responses).join(', ')})`]
  const content = documented.content ?? {}
  if (Object.keys(content).length === 0) {
    return r.bytes === 0 ? [] : [`documented without a body, got ${r.bytes} bytes of ${r.contentType}`]
  }
  const media = content[r.contentType]
  if (media === undefined) {
    return [`Content-Type ${r.contentType || '(none)'} is not documented (${Object.keys(content).join(', ')})`]
  }
  if (!/json/.test(r.contentType)) return r.bytes > 0 ? [] : ['an empty binary body']
  const v = validatorFor(
    `${route.service} ${route.method} ${route.template} ${r.status} ${r.contentType}`,
    resolveRefs(media.schema ?? {}, docs[route.service])
  )
  let body: unknown
  try { body = JSON.parse(r.text) } catch { return ['the body is not JSON'] }
  return v(body)
    ? []
    : (v.errors ?? []).map((e) => `body${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
}

const label = (r: Recorded): string => `${r.method} ${r.pathname} → ${r.status} ${r.contentType} (${r.note})`

// ---- The journey.
t.test('a realistic journey through the gateway with the typed client', async (t) => {
  /** Makes one call (its responses recorded under `what`) and checks its status. */
  const expect = async <R extends { response: Response }>(
    what: string,
    status: number,
    call: () => Promise<R>
  ): Promise<R> => {
    step(what)
    const r = await call()
    t.equal(r.response.status, status, `${what}: ${status}`)
    return r
  }
  const id = randomUUID().slice(0, 8)
  const account = { email: `ada-${id}@example.test`, username: `ada_${id}`, password: `Correct horse ${id} battery` }

  // Auth: errors first, then the happy path.
  await expect('register with bad fields', 400, async () => await client.auth.POST('/api/v1/auth/register', {
    body: { email: 'not an email', password: 'x', username: '!' }
  }))
  const reg = await expect('register', 201, async () => await client.auth.POST('/api/v1/auth/register', {
    body: account
  }))
  const me0 = reg.data?.user
  t.ok(me0 !== undefined, 'the new user comes back')
  await expect('register the same email again', 409, async () => await client.auth.POST('/api/v1/auth/register', {
    body: account
  }))
  await expect('login with a wrong password', 401, async () => await client.auth.POST('/api/v1/auth/login', {
    body: { email: account.email, password: 'wrong password here' }
  }))
  const login = await expect('login', 200, async () => await client.auth.POST('/api/v1/auth/login', {
    body: { email: account.email, password: account.password }
  }))
  await expect('me without a token', 401, async () => await client.auth.GET('/api/v1/auth/me'))
  client.setAccessToken(login.data?.accessToken)

  const welcome = await mail.waitFor(account.email, /Confirm your Holo Cards email/)
  const token = /Token: (\S+)/.exec(welcome.text)?.[1]
  t.ok(token, 'the welcome email carries a verification token')
  await expect('verify email', 204, async () => await client.auth.POST('/api/v1/auth/verify-email', {
    body: { token: token ?? '' }
  }))

  const me = await expect('me', 200, async () => await client.auth.GET('/api/v1/auth/me'))
  t.equal(me.data?.emailVerified, true, 'verified')
  const patched = await expect('patch me', 200, async () => await client.auth.PATCH('/api/v1/auth/me', {
    body: { displayName: 'Ada', bio: 'I collect holo cards' }
  }))
  t.equal(patched.data?.displayName, 'Ada')
  const refreshed = await expect('refresh', 200, async () => await client.auth.POST('/api/v1/auth/refresh', {
    body: { refreshToken: login.data?.refreshToken ?? '' }
  }))
  client.setAccessToken(refreshed.data?.accessToken)
  const sessions = await expect('sessions', 200, async () => await client.auth.GET('/api/v1/auth/sessions'))
  t.ok((sessions.data?.items.length ?? 0) >= 1, 'at least this session')
  const jwks = await expect('jwks', 200, async () => await client.auth.GET('/api/v1/auth/.well-known/jwks.json'))
  t.ok((jwks.data?.keys.length ?? 0) >= 1, 'at least one signing key')
  const userId = me.data?.id ?? ''
  await expect('one profile', 200, async () => await client.auth.GET('/api/v1/auth/profiles/{id}', {
    params: { path: { id: userId } }
  }))
  await expect('profiles by ids', 200, async () => await client.auth.GET('/api/v1/auth/profiles', {
    params: { query: { ids: userId } }
  }))
  await expect('unknown profile', 404, async () => await client.auth.GET('/api/v1/auth/profiles/{id}', {
    params: { path: { id: randomUUID() } }
  }))

  // Cards.
  const card = await expect('create card', 201, async () => await client.card.POST('/api/v1/cards', {
    body: {
      title: `Nebula Fox ${id}`,
      description: 'A fox made of stardust',
      holo: { effect: 'galaxy', intensity: 0.8, angle: 135, colors: ['#6a00ff', '#00e5ff'] },
      rarity: 'epic',
      tags: ['fox', 'space'],
      visibility: 'public'
    }
  }))
  const cardId = card.data?.id ?? ''
  await expect('create card with an empty title', 400, async () => await client.card.POST('/api/v1/cards', {
    body: { title: '' }
  }))
  const got = await expect('get card', 200, async () => await client.card.GET('/api/v1/cards/{id}', {
    params: { path: { id: cardId } }
  }))
  const etag = got.response.headers.get('etag') ?? ''
  t.ok(etag !== '', 'an ETag')
  await expect('get card not modified', 304, async () => await client.card.GET('/api/v1/cards/{id}', {
    params: { path: { id: cardId }, header: { 'if-none-match': etag } }
  }))
  await expect('unknown card', 404, async () => await client.card.GET('/api/v1/cards/{id}', {
    params: { path: { id: randomUUID() } }
  }))
  const patchedCard = await expect('patch card with its ETag', 200, async () =>
    await client.card.PATCH('/api/v1/cards/{id}', {
      params: { path: { id: cardId }, header: { 'if-match': etag } },
      body: { title: `Nebula Fox II ${id}`, holo: { intensity: 0.9 } }
    }))
  t.equal(patchedCard.data?.title, `Nebula Fox II ${id}`, 'the patch is applied')
  await expect('patch card with a stale ETag', 412, async () => await client.card.PATCH('/api/v1/cards/{id}', {
    params: { path: { id: cardId }, header: { 'if-match': etag } },
    body: { title: 'stale' }
  }))
  await expect('list cards', 200, async () => await client.card.GET('/api/v1/cards', {
    params: { query: { ownerId: userId, limit: 10 } }
  }))
  await expect('search cards', 200, async () => await client.card.GET('/api/v1/cards', {
    params: { query: { q: 'nebula', limit: 5 } }
  }))
  await expect('like', 204, async () => await client.card.PUT('/api/v1/cards/{id}/like', {
    params: { path: { id: cardId } }
  }))
  await expect('unlike', 204, async () => await client.card.DELETE('/api/v1/cards/{id}/like', {
    params: { path: { id: cardId } }
  }))

  // Templates: a user may not; the admin makes them a creator.
  const templateBody = {
    name: `Cosmic Classic ${id}`,
    description: 'A classic frame with a galaxy shimmer',
    layout: {
      frame: { style: 'classic', color: '#222244', borderWidth: 12 },
      fonts: { title: 'Orbitron', body: 'Inter' },
      positions: {
        title: { x: 0.05, y: 0.03, width: 0.9, height: 0.08 },
        artwork: { x: 0.05, y: 0.12, width: 0.9, height: 0.5 },
        description: { x: 0.05, y: 0.65, width: 0.9, height: 0.3 }
      }
    },
    holoDefaults: { effect: 'galaxy', intensity: 0.7, angle: 45 },
    status: 'draft'
  } as const
  await expect('create a template without the creator role', 403, async () =>
    await client.card.POST('/api/v1/templates', { body: templateBody }))
  const adminLogin = await expect('admin login', 200, async () => await client.auth.POST('/api/v1/auth/login', {
    body: admin
  }))
  const adminHeaders = { authorization: `Bearer ${adminLogin.data?.accessToken ?? ''}` }
  await expect('admin reads the user', 200, async () => await client.auth.GET('/api/v1/auth/users/{id}', {
    params: { path: { id: userId } },
    headers: adminHeaders
  }))
  const roles = await expect('admin grants the creator role', 200, async () =>
    await client.auth.PATCH('/api/v1/auth/users/{id}', {
      params: { path: { id: userId } },
      body: { roles: ['user', 'creator'] },
      headers: adminHeaders
    }))
  const again = await expect('refresh picks up the new role', 200, async () =>
    await client.auth.POST('/api/v1/auth/refresh', {
      body: { refreshToken: refreshed.data?.refreshToken ?? '' }
    }))
  client.setAccessToken(again.data?.accessToken)
  const template = await expect('create a template as a creator', 201, async () =>
    await client.card.POST('/api/v1/templates', { body: templateBody }))
  const templateId = template.data?.id ?? ''
  await expect('publish the template', 200, async () => await client.card.PATCH('/api/v1/templates/{id}', {
    params: { path: { id: templateId } },
    body: { status: 'published' }
  }))
  await expect('get template', 200, async () => await client.card.GET('/api/v1/templates/{id}', {
    params: { path: { id: templateId } }
  }))
  await expect('list templates', 200, async () => await client.card.GET('/api/v1/templates', {
    params: { query: { limit: 10 } }
  }))

  // Collections.
  const collection = await expect('create collection', 201, async () => await client.card.POST('/api/v1/collections', {
    body: { name: `Space favourites ${id}`, description: 'Everything with stars', visibility: 'public' }
  }))
  const collectionId = collection.data?.id ?? ''
  await expect('add the card', 204, async () => await client.card.PUT('/api/v1/collections/{id}/cards/{cardId}', {
    params: { path: { id: collectionId, cardId } },
    body: { position: 0 }
  }))
  step('add the card again')
  const dup = await client.card.PUT('/api/v1/collections/{id}/cards/{cardId}', {
    params: { path: { id: collectionId, cardId } },
    body: { position: 0 }
  })
  t.ok([204, 409].includes(dup.response.status), `adding it again: 204 or 409 (${dup.response.status})`)
  await expect('get collection', 200, async () => await client.card.GET('/api/v1/collections/{id}', {
    params: { path: { id: collectionId } }
  }))
  await expect('list collections', 200, async () => await client.card.GET('/api/v1/collections', {
    params: { query: { ownerId: userId, limit: 10 } }
  }))

  // Moderation.
  await expect('a user cannot hide', 403, async () => await client.card.POST('/api/v1/cards/{id}/hide', {
    params: { path: { id: cardId } },
    body: {}
  }))
  await expect('admin hides', 200, async () => await client.card.POST('/api/v1/cards/{id}/hide', {
    params: { path: { id: cardId } },
    body: { reason: 'A journey check' },
    headers: adminHeaders
  }))
  await expect('admin unhides', 200, async () => await client.card.POST('/api/v1/cards/{id}/unhide', {
    params: { path: { id: cardId } },
    headers: adminHeaders
  }))

  // Files: multipart through fetch (the client cannot build the form), typed by the document.
  type Uploaded = FilePaths['/api/v1/files']['post']['responses'][201]['content']['application/json']
  const bearer = { authorization: `Bearer ${again.data?.accessToken ?? ''}` }
  const uploadForm = (data: Buffer, filename: string, type: string): FormData => {
    const form = new FormData()
    form.append('purpose', 'artwork')
    form.append('visibility', 'public')
    form.append('file', new Blob([new Uint8Array(data)], { type }), filename)
    return form
  }
  const png = await makeImage({ width: 96, height: 64, seed: 42 })
  step('upload')
  const up = await recordingFetch(`${gw.url}/api/v1/files`, {
    method: 'POST',
    headers: bearer,
    body: uploadForm(png, 'fox.png', 'image/png')
  })
  t.equal(up.status, 201, 'upload a PNG: 201')
  const file = await up.json() as Uploaded
  t.equal(file.contentType, 'image/png', 'stored as PNG')
  step('upload 415')
  const text = await recordingFetch(`${gw.url}/api/v1/files`, {
    method: 'POST',
    headers: bearer,
    body: uploadForm(Buffer.from('plain text, not an image\n'.repeat(20)), 'notes.txt', 'text/plain')
  })
  t.equal(text.status, 415, 'a text file: 415')
  step('upload 413')
  const big = await makeImage({ width: 200, height: 200, noise: true })
  t.ok(big.length > FILE_MAX_BYTES, `the noisy PNG (${big.length} B) is over the ${FILE_MAX_BYTES} B limit`)
  const tooBig = await recordingFetch(`${gw.url}/api/v1/files`, {
    method: 'POST',
    headers: bearer,
    body: uploadForm(big, 'big.png', 'image/png')
  })
  t.equal(tooBig.status, 413, 'a file over the limit: 413')
  step('upload 401')
  const anon = await recordingFetch(`${gw.url}/api/v1/files`, {
    method: 'POST',
    body: uploadForm(png, 'fox.png', 'image/png')
  })
  t.equal(anon.status, 401, 'upload without a token: 401')

  const fileId = file.id
  await expect('file metadata', 200, async () => await client.file.GET('/api/v1/files/{id}', {
    params: { path: { id: fileId } }
  }))
  const content = await expect('content', 200, async () => await client.file.GET('/api/v1/files/{id}/content', {
    params: { path: { id: fileId } },
    parseAs: 'arrayBuffer'
  }))
  t.equal(content.response.headers.get('content-type'), 'image/png', 'content: Content-Type')
  t.equal(content.response.headers.get('content-length'), String(png.length), 'content: Content-Length')
  t.ok(content.response.headers.get('etag'), 'content: ETag')
  t.same(Buffer.from(content.data as ArrayBuffer), png, 'content: the same bytes')
  const range = await expect('content range', 206, async () => await client.file.GET('/api/v1/files/{id}/content', {
    params: { path: { id: fileId }, header: { range: 'bytes=0-7' } },
    parseAs: 'arrayBuffer'
  }))
  t.match(range.response.headers.get('content-range'), /^bytes 0-7\//, 'Content-Range')
  const thumb = await expect('thumbnail', 200, async () => await client.file.GET('/api/v1/files/{id}/thumbnail', {
    params: { path: { id: fileId }, query: { w: 128 } },
    parseAs: 'arrayBuffer'
  }))
  t.equal(thumb.response.headers.get('content-type'), 'image/webp', 'thumbnail: WebP')
  const signed = await expect('signed URL', 200, async () => await client.file.GET('/api/v1/files/{id}/signed-url', {
    params: { path: { id: fileId }, query: { expiresIn: 600 } }
  }))
  await expect('usage', 200, async () => await client.file.GET('/api/v1/files/usage'))
  await expect('list files', 200, async () => await client.file.GET('/api/v1/files', {
    params: { query: { ownerId: 'me', limit: 10 } }
  }))
  await expect('delete file', 204, async () => await client.file.DELETE('/api/v1/files/{id}', {
    params: { path: { id: fileId } }
  }))
  await expect('deleted file', 404, async () => await client.file.GET('/api/v1/files/{id}', {
    params: { path: { id: fileId } }
  }))
  await expect('a bad id', 400, async () => await client.file.GET('/api/v1/files/{id}', {
    params: { path: { id: 'not-a-uuid' } }
  }))

  // The user's inbox: the welcome made from their registration, read and preferences.
  t.ok(await eventually(async () => ((await client.notification.GET('/api/v1/notifications/unread-count'))
    .data?.count ?? 0) > 0), 'the welcome notification arrived')
  const inbox = await expect('inbox', 200, async () => await client.notification.GET('/api/v1/notifications', {
    params: { query: { limit: 5 } }
  }))
  const first = inbox.data?.items[0]?.id ?? ''
  await expect('mark one read', 204, async () => await client.notification.POST('/api/v1/notifications/{id}/read', {
    params: { path: { id: first } }
  }))
  await expect('another user\'s or no such notification', 404, async () =>
    await client.notification.POST('/api/v1/notifications/{id}/read', {
      params: { path: { id: '01a22e7b-53d9-7756-a725-3209f76fafa8' } }
    }))
  await expect('preferences', 200, async () => await client.notification.GET('/api/v1/notifications/preferences'))
  await expect('security mail cannot be turned off', 400, async () =>
    await client.notification.PUT('/api/v1/notifications/preferences', {
      body: { types: { 'security.new_login': { inApp: true, email: false } } }
    }))

  // What the journey did, as the bus's consumers saw it.
  const byAdmin = { headers: adminHeaders }
  t.ok(await eventually(async () => ((await client.audit.GET('/api/v1/audit/events', {
    ...byAdmin, params: { query: { subject: fileId } }
  })).data?.items.length ?? 0) === 2), 'audit logged the upload and the delete')
  await expect('audit log', 200, async () => await client.audit.GET('/api/v1/audit/events', {
    ...byAdmin, params: { query: { actorId: userId, limit: 5 } }
  }))
  await expect('audit log, a bad cursor', 400, async () => await client.audit.GET('/api/v1/audit/events', {
    ...byAdmin, params: { query: { cursor: 'not-a-cursor' } }
  }))
  await expect('audit log, not staff', 403, async () => await client.audit.GET('/api/v1/audit/events'))
  await expect('audit chain', 200, async () => await client.audit.GET('/api/v1/audit/verify', byAdmin))
  await expect('consumer groups', 200, async () => await client.audit.GET('/api/v1/events/consumers', byAdmin))
  await expect('dead letters', 200, async () => await client.audit.GET('/api/v1/events/dead-letters', {
    ...byAdmin, params: { query: { group: 'audit' } }
  }))
  await expect('replay a dead letter that is not there', 404, async () =>
    await client.audit.POST('/api/v1/events/dead-letters/{id}/replay', {
      ...byAdmin, params: { path: { id: '1-1' }, query: { group: 'audit' } }
    }))
  await expect('business overview', 200, async () => await client.analytics.GET('/api/v1/analytics/overview', {
    ...byAdmin, params: { query: { granularity: 'hour' } }
  }))
  await expect('overview over too many hours', 400, async () =>
    await client.analytics.GET('/api/v1/analytics/overview', {
      ...byAdmin, params: { query: { granularity: 'hour', from: '2000-01-01T00:00:00Z' } }
    }))
  await expect('top cards', 200, async () => await client.analytics.GET('/api/v1/analytics/cards/top', {
    params: { query: { metric: 'likes', window: '24h' } }
  }))
  await expect('a card\'s figures', 200, async () => await client.analytics.GET('/api/v1/analytics/cards/{id}', {
    ...byAdmin, params: { path: { id: cardId } }
  }))

  // Billing: a premium price on the template, Holo+ bought at the stand-in, the admin's views and refund.
  await expect('price the template', 200, async () => await client.card.PATCH('/api/v1/templates/{id}', {
    params: { path: { id: templateId } }, body: { premium: true, price: { amount: 499, currency: 'eur' } }
  }))
  await expect('a price on a free template', 400, async () => await client.card.PATCH('/api/v1/templates/{id}', {
    params: { path: { id: templateId } }, body: { premium: false, price: { amount: 1, currency: 'eur' } }
  }))
  await expect('entitlements, none yet', 200, async () => await client.billing.GET('/api/v1/billing/entitlements'))
  await expect('the portal before any checkout', 404, async () => await client.billing.POST('/api/v1/billing/portal'))
  await expect('buy one\'s own template', 409, async () => await client.billing.POST('/api/v1/billing/checkout', {
    body: { templateId }
  }))
  await expect('checkout of no such template', 404, async () => await client.billing.POST('/api/v1/billing/checkout', {
    body: { templateId: '01a22e7b-53d9-7756-a725-3209f76fafa8' }
  }))
  const plus = await expect('checkout Holo+', 200, async () => await client.billing.POST('/api/v1/billing/checkout', {
    body: { plan: 'holo-plus' }
  }))
  await standin.pay(plus.data?.sessionId ?? '')
  await standin.idle()
  t.ok(await eventually(async () => ((await client.billing.GET('/api/v1/billing/entitlements')).data?.items
    .some((e) => e.product === 'holo-plus' && e.active)) === true), 'Holo+ is active')
  await expect('subscribing twice', 409, async () => await client.billing.POST('/api/v1/billing/checkout', {
    body: { plan: 'holo-plus' }
  }))
  const bought = await expect('purchases', 200, async () => await client.billing.GET('/api/v1/billing/purchases'))
  const paymentId = bought.data?.items[0]?.id ?? ''
  await expect('a purchase', 200, async () => await client.billing.GET('/api/v1/billing/purchases/{id}', {
    params: { path: { id: paymentId } }
  }))
  await expect('a purchase that is not there', 404, async () => await client.billing.GET('/api/v1/billing/purchases/{id}', {
    params: { path: { id: '01a22e7b-53d9-7756-a725-3209f76fafa8' } }
  }))
  await expect('the portal', 200, async () => await client.billing.POST('/api/v1/billing/portal'))
  await expect('earnings', 200, async () => await client.billing.GET('/api/v1/billing/earnings'))
  await expect('revenue, not an admin', 403, async () => await client.billing.GET('/api/v1/billing/revenue'))
  await expect('revenue', 200, async () => await client.billing.GET('/api/v1/billing/revenue', byAdmin))
  await expect('revenue, from after to', 400, async () => await client.billing.GET('/api/v1/billing/revenue', {
    ...byAdmin, params: { query: { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' } }
  }))
  await expect('refund', 200, async () => await client.billing.POST('/api/v1/billing/payments/{id}/refund', {
    ...byAdmin, params: { path: { id: paymentId } }
  }))
  await expect('refund again', 409, async () => await client.billing.POST('/api/v1/billing/payments/{id}/refund', {
    ...byAdmin, params: { path: { id: paymentId } }
  }))
  step('an unsigned webhook')
  const unsigned = await recordingFetch(`${gw.url}/api/v1/billing/webhooks/stripe`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"evt_x","type":"charge.refunded"}'
  })
  t.equal(unsigned.status, 400, 'an unsigned webhook: 400')
})

t.test('every recorded response matches its service\'s document', async (t) => {
  t.ok(recorded.length >= 65, `${recorded.length} responses recorded`)
  for (const r of recorded) {
    const problems = mismatches(r)
    t.same(problems, [], label(r))
    if (r.status >= 400) t.equal(r.contentType, 'application/problem+json', `${label(r)}: errors are problem+json`)
  }
  const statuses = new Set(recorded.map((r) => r.status))
  for (const s of [200, 201, 204, 206, 304, 400, 401, 403, 404, 409, 412, 413, 415]) {
    t.ok(statuses.has(s), `status ${s} was exercised`)
  }
  const covered = new Set(recorded.map((r) => findRoute(r.method, r.pathname))
    .filter((x) => x !== undefined)
    .map((x) => `${x.method} ${x.template}`))
  t.comment(`${covered.size} of ${routes.length} documented operations exercised`)
})

t.test('the check itself fails on drift', async (t) => {
  const meRecord = recorded.find((r) => r.method === 'GET' && r.pathname === '/api/v1/auth/me' && r.status === 200)
  t.ok(meRecord, 'a recorded GET /me')
  const route = findRoute('GET', '/api/v1/auth/me') as Route
  const schema = resolveRefs(
    route.op.responses?.['200']?.content?.['application/json']?.schema ?? {},
    docs.auth
  ) as JsonObject
  const body = JSON.parse(meRecord?.text ?? '{}') as unknown
  t.ok(ajv.compile(schema)(body), 'the documented schema accepts the body')
  const tampered = structuredClone(schema)
  tampered.required = [...((tampered.required ?? []) as string[]), 'favouriteColour']
  t.notOk(ajv.compile(tampered)(body), 'a schema with an extra required property rejects it')
  const retyped = structuredClone(schema)
  ;(retyped.properties as JsonObject).id = { type: 'integer' }
  t.notOk(ajv.compile(retyped)(body), 'a schema with a changed property type rejects it')
  // The lookup itself: an undocumented status and content type are reported.
  t.match(mismatches({ ...(meRecord as Recorded), status: 418 }), [/status 418 is not documented/])
  t.match(
    mismatches({ ...(meRecord as Recorded), contentType: 'text/html' }),
    [/Content-Type text\/html is not documented/]
  )
  t.match(
    mismatches({ ...(meRecord as Recorded), pathname: '/api/v1/auth/nowhere' }),
    ['no documented operation matches']
  )
})
