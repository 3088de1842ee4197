// Schema-driven fuzzing of every operation of the three OpenAPI documents,
// through the real nginx gateway in front of the real services (own database,
// s3rver, MailDev). fast-check builds requests from each operation's own JSON
// Schemas: valid-looking values, and values with one mutation (wrong type, NUL
// bytes, LIKE wildcards, huge numbers, missing or extra fields, malformed JSON
// or multipart...), sent as anonymous, a signed-in user, the bootstrap admin or
// with a malformed Authorization header. Every answer must match the document:
// no 5xx, a declared status and Content-Type, problem+json for errors, a body
// valid against the declared schema, no 2xx for an input the document rejects
// or for a secured operation without a valid token. Each path must answer an
// undeclared method with 405 and Allow.
// Runs are collected, not stopped at the first failure: each distinct finding
// is one failing assertion with the seed and its smallest example request.
// FUZZ_SEED changes the cases, FUZZ_RUNS the number of cases per operation.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import fc from 'fast-check'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { freePort, tempDir, testDatabase, testGateway, testMail, testRedisUrl, testS3 } from '@holo/infra/testing'
import {
  ALL_SERVICES as SERVICES, startService, type AnyServiceName as ServiceName, type LogLine, type RunningService
} from '../e2e/helpers.js'
import { startStripeStandin } from '../../packages/stripe-standin/src/index.js'
import { makeImage } from '../../services/file/test/helper.js'
import { TemplateExample } from '../../services/card/src/modules/templates/templates.schemas.js'
import { resolveRefs, type Json, type JsonObject } from '../docs/schema-refs.js'

type Schema = JsonObject

const SEED = Number(process.env.FUZZ_SEED ?? '20261130')
const RUNS = Number(process.env.FUZZ_RUNS ?? '60')
// A slow machine runs the operations left after this many seconds with few cases (the file has 120 s).
const BUDGET_MS = Number(process.env.FUZZ_BUDGET_SECONDS ?? '50') * 1000
if (!Number.isSafeInteger(SEED) || !Number.isSafeInteger(RUNS) || RUNS < 1 || !(BUDGET_MS > 0)) {
  throw new Error('FUZZ_SEED must be an integer, FUZZ_RUNS and FUZZ_BUDGET_SECONDS positive')
}
const REPRODUCE = `FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} npx tap test/fuzz/openapi-fuzz.test.ts`
const started = Date.now()
t.comment(`fuzz seed ${SEED}, ${RUNS} cases per operation; reproduce: ${REPRODUCE}`)

// ESM/CJS interop: the default export is the plugin under NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020

// ---- The stack. Auth's per-IP and per-account limits are raised: the fuzzer is one IP.
const db = await testDatabase(t)
const s3 = await testS3(t)
const mail = await testMail(t)
// Deterministic per seed, unique per process (names must not clash with other runs on shared Redis).
const tag = `p${process.pid.toString(36)}s${(SEED >>> 0).toString(36)}`
const admin = { email: `fuzz-admin-${tag}@example.test`, password: 'Admin passphrase for the fuzz test' }
const HIGH = '1000000'
// The gateway's port is chosen first: auth reaches the file service through it (avatars).
const gatewayPort = await freePort()
// warn: keeps the error lines of 5xx answers (shown with a finding), not every access line.
const LOG = { LOG_LEVEL: 'warn' }
const auth = await startService(t, 'auth', {
  ...LOG,
  DATABASE_URL: db.urlFor('auth'),
  REDIS_URL: testRedisUrl(),
  RATE_LIMIT_NAMESPACE: `fuzz:${tag}:`,
  RATE_LIMIT_LOGIN_PER_IP: HIGH,
  RATE_LIMIT_LOGIN_PER_ACCOUNT: HIGH,
  RATE_LIMIT_REGISTER_PER_IP: HIGH,
  RATE_LIMIT_RESET_PER_IP: HIGH,
  RATE_LIMIT_RESET_PER_ACCOUNT: HIGH,
  SMTP_URL: `smtp://127.0.0.1:${mail.smtpPort}`,
  BOOTSTRAP_ADMIN_EMAIL: admin.email,
  BOOTSTRAP_ADMIN_PASSWORD: admin.password,
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_TIME_COST: '1',
  FILE_SERVICE_URL: `http://127.0.0.1:${gatewayPort}`
})
const trustAuth = { ...LOG, REDIS_URL: testRedisUrl(), AUTH_JWKS_URL: `${auth.url}/api/v1/auth/.well-known/jwks.json` }
const FILE_MAX_BYTES = 64 * 1024
const file = await startService(t, 'file', {
  ...trustAuth,
  DATABASE_URL: db.urlFor('file'),
  S3_ENDPOINT: s3.endpoint,
  S3_BUCKET: `fuzz-${tag}`,
  FILE_MAX_BYTES: String(FILE_MAX_BYTES)
})
const card = await startService(t, 'card', {
  ...trustAuth,
  DATABASE_URL: db.urlFor('card'),
  // Own cache prefix: list caches must not be shared with other test files' databases.
  CACHE_PREFIX: `fuzz${tag}:`,
  // Card writes ask the file service about artwork ids.
  FILE_SERVICE_URL: file.url
})
// The consumers are fuzzed with their consumers off: their API is what is under test.
const notification = await startService(t, 'notification', { ...trustAuth, DATABASE_URL: db.urlFor('notification') })
const analytics = await startService(t, 'analytics', { ...trustAuth, DATABASE_URL: db.urlFor('analytics') })
const audit = await startService(t, 'audit', { ...trustAuth, DATABASE_URL: db.urlFor('audit') })
// Billing talks to the local Stripe stand-in (its webhooks are fuzzed unsigned and mis-signed: all 400).
const standin = await startStripeStandin({
  port: 0,
  webhookSecret: 'whsec_fuzz',
  secretKey: 'sk_test_fuzz',
  prices: [{ id: 'price_fuzz_holo_plus', unitAmount: 499, currency: 'eur', productName: 'Holo+', recurring: true }]
})
t.teardown(() => standin.stop())
const billing = await startService(t, 'billing', {
  ...trustAuth,
  DATABASE_URL: db.urlFor('billing'),
  CARD_SERVICE_URL: card.url,
  STRIPE_API_URL: standin.url,
  STRIPE_SECRET_KEY: 'sk_test_fuzz',
  STRIPE_WEBHOOK_SECRET: 'whsec_fuzz',
  STRIPE_HOLO_PLUS_PRICE: 'price_fuzz_holo_plus'
})
const services: Record<ServiceName, RunningService> = { auth, card, file, notification, analytics, audit, billing }
const upstream = (s: RunningService): string => `127.0.0.1:${s.port}`
// Its access log tells which answers nginx made itself (no upstream status).
const accessLog = path.join(await tempDir(t, 'holo-fuzz-'), 'access.log')
const upstreams = Object.fromEntries(
  Object.entries(services).map(([name, s]) => [name, upstream(s)])
) as Record<ServiceName, string>
const gw = await testGateway(t, upstreams, { accessLog, port: gatewayPort })

// ---- The documents, as the gateway serves them (/docs/<service>.json is each service's /openapi.json).
interface Doc { paths: Record<string, Record<string, Json>>, components?: Schema, security?: Json }
const docs = {} as Record<ServiceName, Doc>
for (const name of Object.keys(services) as ServiceName[]) {
  const res = await fetch(`${gw.url}/docs/${name}.json`)
  if (res.status !== 200) throw new Error(`GET /docs/${name}.json answered ${res.status}`)
  docs[name] = await res.json() as Doc
}

// ---- The operations.
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const
interface Param {
  name: string
  in: 'path' | 'query' | 'header'
  required: boolean
  schema: Schema
  description: string
}
interface ResponseDoc { content?: Record<string, { schema?: Json }> }
interface Op {
  service: ServiceName
  method: string
  template: string
  key: string
  regex: RegExp
  params: Param[]
  body?: { required: boolean, media: string, schema: Schema }
  responses: Record<string, ResponseDoc>
  /** Every security alternative needs a token (none is `{}`). */
  secured: boolean
}
const isEmptyObject = (s: Json): boolean => s !== null && typeof s === 'object' && Object.keys(s).length === 0
const ops: Op[] = []
for (const [service, doc] of Object.entries(docs) as Array<[ServiceName, Doc]>) {
  for (const [template, rawItem] of Object.entries(doc.paths)) {
    const item = resolveRefs(rawItem as Json, doc) as Schema
    const source = template.split(/(\{[^}]+\})/)
      .map((part) => /^\{[^}]+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('')
    for (const method of METHODS) {
      const op = item[method] as Schema | undefined
      if (op === undefined) continue
      const params = [...((item.parameters ?? []) as Schema[]), ...((op.parameters ?? []) as Schema[])]
        .filter((p) => p.in === 'path' || p.in === 'query' || p.in === 'header')
        .map((p): Param => ({
          name: String(p.name),
          in: p.in as Param['in'],
          required: p.required === true,
          schema: (p.schema ?? {}) as Schema,
          description: String(p.description ?? (p.schema as Schema | undefined)?.description ?? '')
        }))
      const rb = op.requestBody as Schema | undefined
      const content = (rb?.content ?? {}) as Record<string, Schema>
      const media = Object.keys(content)[0]
      const security = (op.security ?? doc.security ?? []) as Json[]
      ops.push({
        service,
        method: method.toUpperCase(),
        template,
        key: `${method.toUpperCase()} ${template}`,
        regex: new RegExp(`^${source}$`),
        params,
        body: media === undefined
          ? undefined
          : { required: rb?.required === true, media, schema: (content[media]?.schema ?? {}) as Schema },
        responses: (op.responses ?? {}) as Record<string, ResponseDoc>,
        secured: security.length > 0 && !security.some(isEmptyObject)
      })
    }
  }
}

// Operations that could lock the fuzzer out (revoke its sessions, change its
// password, disable or demote an account): run last, on throwaway accounts only.
const DESTRUCTIVE = new Set([
  'POST /api/v1/auth/refresh',
  'POST /api/v1/auth/logout',
  'POST /api/v1/auth/logout-all',
  'POST /api/v1/auth/password',
  'DELETE /api/v1/auth/sessions/{id}',
  'PATCH /api/v1/auth/users/{id}'
])

// ---- Validators: responses and JSON bodies strictly (a body's type is part of the contract);
// parameters with coercion, as they travel as text.
const strictAjv = new Ajv2020({ strict: false, allErrors: true })
const paramAjv = new Ajv2020({ strict: false, allErrors: true, coerceTypes: true })
for (const a of [strictAjv, paramAjv]) { addFormats(a); a.addFormat('binary', true) }
const compiled = new Map<string, ValidateFunction>()
function validator (ajv: Ajv2020, key: string, schema: Json): ValidateFunction {
  let v = compiled.get(key)
  if (v === undefined) { v = ajv.compile(schema as object); compiled.set(key, v) }
  return v
}
const paramValid = (key: string, schema: Schema, text: string): boolean =>
  validator(paramAjv, key, { type: 'object', properties: { v: schema }, required: ['v'] })({ v: text })

// ---- Pools of real values (ids, tokens, words, ETags), filled by fixtures and by 2xx answers.
// Arbitraries hold symbolic references, resolved when the request is sent, so a
// throwaway account made for one case can be what that case's request names.
type PoolName = 'cards' | 'templates' | 'collections' | 'files' | 'users' | 'sessions' | 'ids' |
  'refreshTokens' | 'passwords' | 'emails' | 'words' | 'etags'
class PoolRef { constructor (readonly pool: PoolName, readonly index: number, readonly fallback: string) {} }
class Joined { constructor (readonly parts: unknown[], readonly sep: string) {} }
const pools: Record<PoolName, string[]> = {
  cards: [], templates: [], collections: [], files: [], users: [], sessions: [], ids: [],
  refreshTokens: [], passwords: [], emails: [], words: [], etags: []
}
const POOL_CAP = 200
const ID_POOLS: PoolName[] = ['cards', 'templates', 'collections', 'files', 'users']
function remember (pool: PoolName, value: unknown): void {
  if (typeof value !== 'string' || value === '') return
  const list = pools[pool]
  if (list.includes(value)) return
  if (list.length >= POOL_CAP) list.splice(8, 1) // keeps the fixtures at the front
  list.push(value)
  if (ID_POOLS.includes(pool)) remember('ids', value)
}
const poolRef = (pool: PoolName, fallback: fc.Arbitrary<string>): fc.Arbitrary<unknown> =>
  fc.tuple(fc.nat(), fallback).map(([i, f]) => new PoolRef(pool, i, f))

/** Per-case overrides (a throwaway account's own ids and tokens). */
type Context = Partial<Record<PoolName, string[]>>
function resolve (value: unknown, ctx: Context): unknown {
  if (value instanceof PoolRef) {
    const list = ctx[value.pool] ?? pools[value.pool]
    return list.length === 0 ? value.fallback : list[value.index % list.length]
  }
  if (value instanceof Joined) return value.parts.map((p) => String(resolve(p, ctx))).join(value.sep)
  if (Array.isArray(value)) return value.map((v) => resolve(v, ctx))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    // defineProperty: a generated "__proto__" key stays a plain key.
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, { value: resolve(v, ctx), enumerable: true, writable: true, configurable: true })
    }
    return out
  }
  return value
}

/** Which pool a field, query or header draws real values from. */
function poolFor (name: string, schema: Schema): PoolName | undefined {
  const n = name.toLowerCase()
  if (n === 'refreshtoken') return 'refreshTokens'
  if (/password/.test(n)) return 'passwords'
  if (n === 'email') return 'emails'
  if (n === 'q') return 'words'
  if (/^if-(none-)?match$/.test(n)) return 'etags'
  if (schema.format !== 'uuid' && !/(^|[^a-z])ids?$|Id$/.test(name)) return undefined
  if (/file/.test(n)) return 'files'
  if (/template/.test(n)) return 'templates'
  if (/card/.test(n)) return 'cards'
  if (/collection/.test(n)) return 'collections'
  if (/session/.test(n)) return 'sessions'
  if (/owner|author|user|profile/.test(n)) return 'users'
  return 'ids'
}
const SEGMENT_POOLS: Record<string, PoolName> = {
  cards: 'cards', templates: 'templates', collections: 'collections', files: 'files',
  sessions: 'sessions', users: 'users', profiles: 'users'
}
/** The pool of a path parameter: named by the literal segment before it (/cards/{id} → cards). */
function poolForPath (template: string, param: string): PoolName {
  const segs = template.split('/')
  return SEGMENT_POOLS[segs[segs.indexOf(`{${param}}`) - 1] ?? ''] ?? 'ids'
}

// ---- Arbitraries from JSON Schema.
const asSchemas = (v: Json | undefined): Schema[] => Array.isArray(v) ? v as Schema[] : []
const asStrings = (v: Json | undefined): string[] => Array.isArray(v) ? v.map(String) : []
const num = (v: Json | undefined): number | undefined => typeof v === 'number' ? v : undefined
function typesOf (s: Schema): string[] {
  if (typeof s.type === 'string') return [s.type]
  if (Array.isArray(s.type)) return s.type as string[]
  if (s.properties !== undefined) return ['object']
  if (s.items !== undefined) return ['array']
  return []
}
/** allOf folded into one schema (properties and required merged). */
function merged (s: Schema): Schema {
  let out: Schema = { ...s }
  delete out.allOf
  for (const part of asSchemas(s.allOf)) {
    const p = merged(part)
    out = {
      ...p,
      ...out,
      properties: { ...(p.properties as Schema ?? {}), ...(out.properties as Schema ?? {}) },
      required: [...new Set([...asStrings(p.required), ...asStrings(out.required)])]
    }
  }
  return out
}
const printable = fc.string({ unit: 'grapheme-ascii', maxLength: 24 })
const anyText = fc.oneof(printable, fc.string({ unit: 'grapheme', maxLength: 24 }))
const HUGE_STRING = 'a'.repeat(100_000)

function stringArb (s: Schema, name: string): fc.Arbitrary<unknown> {
  const min = num(s.minLength) ?? 0
  const max = num(s.maxLength)
  const cap = Math.min(max ?? min + 32, min + 32)
  const fits = (v: string): boolean => v.length >= min && (max === undefined || v.length <= max)
  let base: fc.Arbitrary<string>
  if (s.format === 'uuid') base = fc.uuid()
  else if (s.format === 'email') base = fc.emailAddress()
  else if (s.format === 'date-time') {
    base = fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString())
  } else if (s.format === 'uri') base = fc.webUrl()
  else if (typeof s.pattern === 'string') {
    let re: RegExp | undefined
    try { re = new RegExp(s.pattern) } catch { re = undefined }
    base = re === undefined ? fc.constant('x'.repeat(Math.max(min, 1))) : fc.stringMatching(re).filter(fits)
  } else if (/email/i.test(name)) {
    base = fc.emailAddress().filter(fits)
  } else {
    base = fc.oneof(
      { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: min, maxLength: cap }) },
      { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: min, maxLength: cap }).filter(fits) },
      { weight: 1, arbitrary: fc.constantFrom('x'.repeat(Math.max(min, 1)), 'y'.repeat(max ?? min + 64)) }
    )
  }
  const choices: Array<fc.Arbitrary<unknown>> = [base]
  const examples = asStrings(s.examples).filter(fits)
  if (examples.length > 0) choices.push(fc.constantFrom(...examples))
  const pool = poolFor(name, s)
  if (pool !== undefined) choices.push(poolRef(pool, base))
  return fc.oneof(...choices)
}

function numberArb (s: Schema, integer: boolean): fc.Arbitrary<unknown> {
  const exMin = num(s.exclusiveMinimum)
  const exMax = num(s.exclusiveMaximum)
  let min = num(s.minimum) ?? (exMin !== undefined ? exMin + 1 : -1000)
  let max = num(s.maximum) ?? (exMax !== undefined ? exMax - 1 : 1e6)
  if (min > max) [min, max] = [max, min]
  const inner = integer
    ? fc.integer({ min: Math.ceil(min), max: Math.floor(max) })
    : fc.double({ min, max, noNaN: true, noDefaultInfinity: true })
  return fc.oneof({ weight: 4, arbitrary: inner }, { weight: 1, arbitrary: fc.constantFrom(min, max) })
}

/** Values the schema accepts (mostly: patterns and pools are best effort; ajv has the last word). */
function validArb (schema: Schema, name = '', depth = 0): fc.Arbitrary<unknown> {
  const s = merged(schema)
  if (depth > 8) return fc.constant(null)
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]))
  if ('const' in s) return fc.constant(s.const)
  const alts = [...asSchemas(s.anyOf), ...asSchemas(s.oneOf)]
  if (alts.length > 0) {
    const { anyOf: _a, oneOf: _o, ...rest } = s
    return fc.oneof(...alts.map((a) => validArb({ ...rest, ...a }, name, depth + 1)))
  }
  const types = typesOf(s)
  if (types.length > 1) return fc.oneof(...types.map((ty) => validArb({ ...s, type: ty }, name, depth + 1)))
  switch (types[0]) {
    case 'string': return stringArb(s, name)
    case 'integer': return numberArb(s, true)
    case 'number': return numberArb(s, false)
    case 'boolean': return fc.boolean()
    case 'null': return fc.constant(null)
    case 'array': {
      const items = (s.items ?? {}) as Schema
      const minLength = num(s.minItems) ?? 0
      const maxLength = Math.min(num(s.maxItems) ?? minLength + 4, minLength + 4)
      const item = validArb(items, name, depth + 1)
      return s.uniqueItems === true
        ? fc.uniqueArray(item, { minLength, maxLength, selector: (v) => JSON.stringify(v) })
        : fc.array(item, { minLength, maxLength })
    }
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, Schema>
      const required = asStrings(s.required).filter((k) => k in props)
      const model: Record<string, fc.Arbitrary<unknown>> = {}
      for (const [k, p] of Object.entries(props)) model[k] = validArb(p, k, depth + 1)
      const minProps = num(s.minProperties) ?? 0
      return fc.record(model, { requiredKeys: required })
        .filter((o) => Object.keys(o).length >= minProps) as fc.Arbitrary<unknown>
    }
    default: return fc.oneof(printable, fc.integer(), fc.boolean())
  }
}

/** A value with one mutation, and the kind of mutation. */
interface Mut { v: unknown, kind: string }
const mut = (kind: string) => (v: unknown): Mut => ({ v, kind })
const WRONG_TYPES = fc.constantFrom<unknown>(42, -1.5, true, null, {}, ['x'], 'a string', [{ a: 1 }])
const HUGE = fc.constantFrom(1e308, -1e308, 2 ** 53 + 2, 2 ** 63, -(2 ** 63), 1e21, Number.MAX_VALUE, 2 ** 31)
const WILDCARDS = fc.constantFrom('%', '_', '%%', '%_%', 'a%', '_a', '\\', '\\%', '%25', '%\\', "'", '"')
const ODD_UNICODE = fc.constantFrom('\uD800', '\u202Eevil', '\uFEFF', 'e\u0301', '💥'.repeat(40), '\u0085', '\u2028')
const BAD_UUIDS = fc.constantFrom('not-a-uuid', '00000000-0000-0000-0000-00000000000g',
  '{00000000-0000-0000-0000-000000000000}', '00000000000000000000000000000000', "' OR '1'='1", '1', '-1', 'null', 'me')

/** Values with one mutation somewhere (mostly rejected by the schema; ajv decides which are). */
function invalidArb (schema: Schema, name = '', inBody = true, depth = 0): fc.Arbitrary<Mut> {
  const s = merged(schema)
  const valid = validArb(s, name, depth)
  // Weighted: the kinds that found bugs (NUL bytes, wrong types, bad fields) come up most.
  const choices: Array<{ weight: number, arbitrary: fc.Arbitrary<Mut> }> = []
  const add = (weight: number, kind: string, arbitrary: fc.Arbitrary<unknown>): void => {
    choices.push({ weight, arbitrary: arbitrary.map(mut(kind)) })
  }
  const pick = (): fc.Arbitrary<Mut> => fc.oneof(...choices)
  add(2, 'wrong-type', WRONG_TYPES)
  if (Array.isArray(s.enum) || 'const' in s) {
    const first = String((s.enum as Json[] | undefined)?.[0] ?? s.const)
    add(3, 'not-in-enum', fc.constantFrom('', 'X', first.toUpperCase(), `${first} `, `${first}\u0000`, `${first}%`))
    return pick()
  }
  const alts = [...asSchemas(s.anyOf), ...asSchemas(s.oneOf)].filter((a) => a.type !== 'null')
  if (alts.length > 0) {
    for (const a of alts) choices.push({ weight: 3, arbitrary: invalidArb(a, name, inBody, depth + 1) })
    return pick()
  }
  switch (typesOf(s)[0]) {
    case 'string': {
      const min = num(s.minLength) ?? 0
      const max = num(s.maxLength)
      add(3, 'nul-byte', valid.chain((v) => {
        const str = typeof v === 'string' ? v : 'x'
        return fc.nat(str.length).map((i) => `${str.slice(0, i)}\u0000${str.slice(i)}`)
      }))
      add(name === 'q' ? 4 : 1, 'like-wildcard', WILDCARDS)
      add(1, 'unicode', ODD_UNICODE)
      if (max !== undefined) add(1, 'too-long', fc.integer({ min: max + 1, max: max + 64 }).map((n) => 'a'.repeat(n)))
      // In URLs under nginx's 8 KiB request line, so the service sees it; far longer in bodies.
      else if (inBody) add(1, 'huge-string', fc.constant(HUGE_STRING))
      else add(1, 'huge-string', fc.constantFrom(101, 300, 1500, 6000).map((n) => 'a'.repeat(n)))
      if (min > 0) add(1, 'too-short', fc.constant('x'.repeat(min - 1)))
      if (s.format === 'uuid') add(2, 'bad-format', BAD_UUIDS)
      if (s.format === 'email' || /email/i.test(name)) {
        add(2, 'bad-format', fc.constantFrom('no-at-sign', '@', 'a@b', ' '))
      }
      if (s.format === 'date-time') add(2, 'bad-format', fc.constantFrom('2024-13-45T99:99:99Z', 'yesterday'))
      if (typeof s.pattern === 'string') {
        let re: RegExp | undefined
        try { re = new RegExp(s.pattern, 'u') } catch { re = undefined }
        const r = re
        const misfits = fc.oneof(anyText, fc.constantFrom('!', ' ', '#zz', 'a,b')).filter((v) => !r?.test(v))
        if (r !== undefined) add(2, 'bad-pattern', misfits)
      }
      return pick()
    }
    case 'integer':
    case 'number': {
      const min = num(s.minimum) ?? num(s.exclusiveMinimum)
      const max = num(s.maximum) ?? num(s.exclusiveMaximum)
      add(2, 'huge-number', HUGE)
      // A number sent as text: type coercion would accept it.
      add(2, 'numeric-string', fc.constantFrom('1', '1e3', 'NaN', '', String(min ?? 0)))
      if (min !== undefined) add(1, 'out-of-range', fc.constant(min - 1))
      if (max !== undefined) add(1, 'out-of-range', fc.constant(max + 1))
      if (typesOf(s)[0] === 'integer') add(1, 'not-integer', fc.constantFrom(0.5, 1.5, -0.25))
      return pick()
    }
    case 'boolean':
      add(3, 'boolean-as-text', fc.constantFrom<unknown>('true', 'false', 1, 0, 'yes'))
      return pick()
    case 'array': {
      const items = (s.items ?? {}) as Schema
      const maxItems = num(s.maxItems)
      choices.push({
        weight: 3,
        arbitrary: fc.tuple(valid, invalidArb(items, name, inBody, depth + 1))
          .map(([arr, m]) => ({ v: [...(arr as unknown[]), m.v], kind: m.kind }))
      })
      const item = validArb(items, name, depth + 1)
      if (maxItems !== undefined) {
        add(1, 'too-many-items', fc.array(item, { minLength: maxItems + 1, maxLength: maxItems + 3 }))
      }
      if (s.uniqueItems === true) add(1, 'duplicate-items', item.map((v) => [v, v]))
      return pick()
    }
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, Schema>
      const required = asStrings(s.required).filter((k) => k in props)
      const names = Object.keys(props)
      const obj = valid.map((v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {}) as
        Record<string, unknown>)
      add(1, 'not-object', fc.constantFrom<unknown>('a string', 42, [], [{}], null, true))
      if (required.length > 0) {
        add(1, 'missing-required', fc.tuple(obj, fc.constantFrom(...required)).map(([o, k]) => {
          const copy = { ...o }
          delete copy[k]
          return copy
        }))
      }
      const extraKey = fc.constantFrom('extra', 'id', 'ownerId', 'roles', 'isAdmin', 'constructor', '__proto__', '')
      add(1, 'extra-field', fc.tuple(obj, extraKey, fc.oneof(printable, WRONG_TYPES, fc.constant(['admin'])))
        .map(([o, k, v]) => {
          const copy = { ...o }
          Object.defineProperty(copy, k, { value: v, enumerable: true, writable: true, configurable: true })
          return copy
        }))
      if (names.length > 0) {
        choices.push({
          weight: 5,
          arbitrary: fc.constantFrom(...names).chain((k) =>
            fc.tuple(obj, invalidArb(props[k] as Schema, k, inBody, depth + 1))
              .map(([o, m]) => ({ v: { ...o, [k]: m.v }, kind: m.kind })))
        })
      }
      return pick()
    }
    default:
      return pick()
  }
}

// ---- Requests: a plan (possibly symbolic), made concrete when sent.
type Caller = 'anon' | 'user' | 'admin' | 'malformed'
/** A raw body, or a function making it from the JSON of the (resolved) valid body `value` when sent. */
type RawText = string | Buffer | ((json: string) => string | Buffer)
/** How a raw body is judged: parsed and checked against the schema, or rejected as it is. */
type Judge = 'parse' | 'invalid'
type BodyPlan =
  | { type: 'none' }
  | { type: 'json', value: unknown, contentType?: string }
  | { type: 'raw', text: RawText, value?: unknown, contentType?: string, judge: Judge }
  | { type: 'multipart', parts: Part[], mode: MultipartMode }
interface Part { name: string, value?: unknown, filename?: string, contentType?: string, data?: Buffer }
type MultipartMode = 'ok' | 'truncated' | 'no-boundary' | 'wrong-boundary' | 'garbage'
interface QueryItem { name: string, v: unknown, raw?: string }
interface Plan {
  caller: Caller
  malformedIndex: number
  path: Record<string, { v: unknown, raw?: string }>
  query: QueryItem[]
  headers: Record<string, unknown>
  body: BodyPlan
  /** The mutation's kind (`valid` for none) and where it is. */
  kind: string
  where: string
}

/** Percent-encodes everything but unreserved characters (UTF-8, lone surrogates become U+FFFD). */
const enc = (s: string): string => Array.from(Buffer.from(s, 'utf8')).map((b) => {
  const c = String.fromCharCode(b)
  return /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
}).join('')
const asText = (v: unknown): string => typeof v === 'string'
  ? v
  : v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)
const RAW_ENCODINGS = fc.constantFrom('%', '%zz', '%E0%A4%A', '%C0%AF', '%u0041', '%%00')
const HEADER_VALUES = fc.constantFrom('bytes=9-1', 'bytes=abc', 'bytes=0-1,2-3,4-5', 'bytes=99999999999999999999-',
  'bytes=-0', 'items=0-1', '"unterminated', 'W/', '*, "a"', 'x'.repeat(4000), ',,,', 'W/"a", W/"b"')
const VALID_HEADERS: Record<string, fc.Arbitrary<string>> = {
  range: fc.constantFrom('bytes=0-7', 'bytes=-10', 'bytes=5-', 'bytes=0-0', 'bytes=0-999999')
}

function paramArb (op: Op, p: Param): fc.Arbitrary<unknown> {
  if (p.in === 'path') {
    return fc.oneof(
      { weight: 3, arbitrary: poolRef(poolForPath(op.template, p.name), fc.uuid()) },
      { weight: 1, arbitrary: validArb(p.schema, p.name) }
    )
  }
  if (p.in === 'header') {
    return VALID_HEADERS[p.name.toLowerCase()] ??
      fc.oneof(poolRef('etags', fc.constantFrom('"x"', '*')), fc.constantFrom('*', '"abc"', 'W/"1-0"'))
  }
  if (p.name === 'ids') {
    // A comma-separated list of ids: real ones where possible.
    return fc.array(poolRef('users', fc.uuid()), { minLength: 1, maxLength: 3 }).map((parts) => new Joined(parts, ','))
  }
  return validArb(p.schema, p.name)
}

/** Requests of `op`: valid-looking ones, and ones with exactly one mutation. */
function planArb (op: Op): fc.Arbitrary<Plan> {
  const pathParams = op.params.filter((p) => p.in === 'path')
  const queryParams = op.params.filter((p) => p.in === 'query')
  const headerParams = op.params.filter((p) => p.in === 'header')
  const caller = fc.oneof(
    { weight: 3, arbitrary: fc.constant<Caller>('user') },
    { weight: 2, arbitrary: fc.constant<Caller>('admin') },
    { weight: 1, arbitrary: fc.constant<Caller>('anon') },
    { weight: 1, arbitrary: fc.constant<Caller>('malformed') }
  )
  const pathModel: Record<string, fc.Arbitrary<{ v: unknown }>> = {}
  for (const p of pathParams) pathModel[p.name] = paramArb(op, p).map((v) => ({ v }))
  const optional = (a: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => fc.option(a, { nil: undefined, freq: 2 })
  const queryModel = fc.tuple(...queryParams.map((p) => p.required ? paramArb(op, p) : optional(paramArb(op, p))))
  const headerModel = fc.tuple(...headerParams.map((p) => optional(paramArb(op, p))))
  const bodyValid: fc.Arbitrary<BodyPlan> = op.body === undefined
    ? fc.constant({ type: 'none' })
    : op.body.media.startsWith('multipart/')
      ? multipartValid(op.body.schema)
      : validArb(op.body.schema).map((value) => ({ type: 'json', value }))
  const validPlan = fc.record({
    caller,
    malformedIndex: fc.nat(),
    path: fc.record(pathModel),
    query: queryModel,
    headers: headerModel,
    body: bodyValid
  }).map((b): Plan => ({
    ...b,
    path: b.path as Plan['path'],
    query: queryParams.flatMap((p, i) => b.query[i] === undefined ? [] : [{ name: p.name, v: b.query[i] }]),
    headers: Object.fromEntries(headerParams.flatMap((p, i) =>
      b.headers[i] === undefined ? [] : [[p.name, b.headers[i]]])),
    kind: 'valid',
    where: ''
  }))

  type Mutation = (plan: Plan) => fc.Arbitrary<Plan>
  const mutations: Array<{ weight: number, arbitrary: fc.Arbitrary<Mutation> }> = []
  const m = (weight: number, make: Mutation): void => { mutations.push({ weight, arbitrary: fc.constant(make) }) }
  const withQuery = (plan: Plan, name: string, items: QueryItem[]): QueryItem[] =>
    [...plan.query.filter((q) => q.name !== name), ...items]
  for (const p of pathParams) {
    const where = `path:${p.name}`
    m(2, (plan) => invalidArb(p.schema, p.name, false)
      .map((x) => ({ ...plan, path: { ...plan.path, [p.name]: { v: x.v } }, kind: x.kind, where })))
    const kind = 'bad-percent-encoding'
    m(1, (plan) => RAW_ENCODINGS
      .map((raw) => ({ ...plan, path: { ...plan.path, [p.name]: { v: raw, raw } }, kind, where })))
  }
  for (const p of queryParams) {
    const where = `query:${p.name}`
    m(2, (plan) => invalidArb(p.schema, p.name, false)
      .map((x) => ({ ...plan, query: withQuery(plan, p.name, [{ name: p.name, v: x.v }]), kind: x.kind, where })))
    m(1, (plan) => fc.tuple(paramArb(op, p), paramArb(op, p)).map(([a, b]) => ({
      ...plan,
      query: withQuery(plan, p.name, [{ name: p.name, v: a }, { name: p.name, v: b }]),
      kind: 'repeated-param',
      where
    })))
    m(1, (plan) => RAW_ENCODINGS.map((raw) => ({
      ...plan, query: withQuery(plan, p.name, [{ name: p.name, v: raw, raw }]), kind: 'bad-percent-encoding', where
    })))
    if (p.required) {
      m(1, (plan) => fc.constant({ ...plan, query: withQuery(plan, p.name, []), kind: 'missing-required', where }))
    }
  }
  m(1, (plan) => fc.tuple(fc.constantFrom('foo', '__proto__', 'constructor[prototype][x]', 'limit[]', ''), printable)
    .map(([name, v]) => ({ ...plan, query: [...plan.query, { name, v }], kind: 'extra-param', where: `query:${name}` })
    ))
  for (const p of headerParams) {
    const where = `header:${p.name}`
    m(1, (plan) => HEADER_VALUES
      .map((v) => ({ ...plan, headers: { ...plan.headers, [p.name]: v }, kind: 'bad-header', where })))
  }
  const body = op.body
  if (body !== undefined && body.media.startsWith('multipart/')) {
    m(4, (plan) => multipartInvalid(body.schema).map(([b, kind]) => ({ ...plan, body: b, kind, where: 'body' })))
  } else if (body !== undefined) {
    m(4, (plan) => invalidArb(body.schema)
      .map((x) => ({ ...plan, body: { type: 'json', value: x.v }, kind: x.kind, where: 'body' })))
    m(2, (plan) => rawJsonArb(body.schema, plan.body).map(([b, kind]) => ({ ...plan, body: b, kind, where: 'body' })))
  }
  return fc.oneof(
    { weight: 2, arbitrary: validPlan },
    { weight: 3, arbitrary: fc.tuple(validPlan, fc.oneof(...mutations)).chain(([plan, mutate]) => mutate(plan)) }
  )
}

/** Bodies that are not the JSON the operation expects. */
function rawJsonArb (schema: Schema, valid: BodyPlan): fc.Arbitrary<[BodyPlan, string]> {
  const first = Object.keys((merged(schema).properties ?? {}) as Schema)[0] ?? 'x'
  const value = valid.type === 'json' ? valid.value : {}
  const J = 'application/json'
  const raw = (data: RawText, contentType: string | undefined, judge: Judge, kind: string): [BodyPlan, string] =>
    [{ type: 'raw', text: data, value, contentType, judge }, kind]
  return fc.constantFrom<[BodyPlan, string]>(
    raw('', J, 'invalid', 'empty-body'),
    raw('{"a":', J, 'invalid', 'malformed-json'),
    raw("{'a':1}", J, 'invalid', 'malformed-json'),
    raw('NaN', J, 'invalid', 'malformed-json'),
    raw(`{"${first}":1e999}`, J, 'parse', 'huge-number-literal'),
    raw(`{"${first}":"a","${first}":"b"}`, J, 'parse', 'duplicate-keys'),
    raw('{"__proto__":{"isAdmin":true}}', J, 'parse', 'proto-pollution'),
    raw('{"constructor":{"prototype":{"isAdmin":true}}}', J, 'parse', 'proto-pollution'),
    raw('['.repeat(3000) + ']'.repeat(3000), J, 'parse', 'deep-nesting'),
    raw((json) => `\uFEFF${json}`, J, 'parse', 'bom'),
    raw((json) => json, 'text/plain', 'invalid', 'wrong-content-type'),
    raw('a=1&b=2', 'application/x-www-form-urlencoded', 'invalid', 'wrong-content-type'),
    raw((json) => Buffer.from(json), undefined, 'invalid', 'no-content-type'),
    raw(Buffer.from([0xff, 0xfe, 0x00, 0x7b]), J, 'invalid', 'invalid-utf8'),
    [{ type: 'json', value, contentType: `${J}; charset=utf-8` }, 'json-charset']
  )
}

// ---- Multipart bodies, built by hand so every byte (and every mistake) is ours.
const images: Array<{ data: Buffer, type: string, name: string }> = []
for (const [i, format] of (['png', 'jpeg', 'webp', 'gif'] as const).entries()) {
  const data = await makeImage({ width: 24 + i, height: 16, seed: i + 1, format })
  images.push({ data, type: `image/${format}`, name: `art.${format}` })
}
const bigImage = await makeImage({ width: 200, height: 200, noise: true })
if (bigImage.length <= FILE_MAX_BYTES) throw new Error('the noisy image must be over FILE_MAX_BYTES')
// Kinds the document rejects (a 2xx for them is a mismatch); the others may be accepted.
const MULTIPART_INVALID = new Set(['missing-required', 'not-an-image', 'empty-file', 'truncated', 'no-boundary',
  'wrong-boundary', 'not-multipart', 'too-large', 'garbage'])

function multipartFields (schema: Schema): { files: string[], fields: Array<[string, Schema]> } {
  const props = (merged(schema).properties ?? {}) as Record<string, Schema>
  const files = Object.entries(props).filter(([, p]) => p.format === 'binary').map(([k]) => k)
  return { files, fields: Object.entries(props).filter(([k]) => !files.includes(k)) }
}
const imagePart = (name: string): fc.Arbitrary<Part> => fc.constantFrom(...images)
  .map((img) => ({ name, filename: img.name, contentType: img.type, data: img.data }))

function multipartValid (schema: Schema): fc.Arbitrary<BodyPlan> {
  const { files, fields } = multipartFields(schema)
  const fieldParts = fc.tuple(...fields.map(([k, p]) =>
    fc.option(validArb(p, k).map((v): Part => ({ name: k, value: v })), { nil: undefined })))
  return fc.tuple(fieldParts, fc.tuple(...files.map(imagePart)), fc.boolean()).map(([fs, imgs, fileFirst]) => {
    const parts = fs.filter((p): p is Part => p !== undefined)
    return { type: 'multipart', parts: fileFirst ? [...imgs, ...parts] : [...parts, ...imgs], mode: 'ok' }
  })
}

function multipartInvalid (schema: Schema): fc.Arbitrary<[BodyPlan, string]> {
  const { files, fields } = multipartFields(schema)
  const fileName = files[0] ?? 'file'
  const valid = multipartValid(schema).map((b) => b.type === 'multipart' ? b.parts : [])
  const withFile = (change: Partial<Part>): fc.Arbitrary<Part[]> =>
    valid.map((parts) => parts.map((p) => p.name === fileName ? { ...p, ...change } : p))
  type Out = fc.Arbitrary<[BodyPlan, string]>
  const mp = (parts: fc.Arbitrary<Part[]>, kind: string, mode: MultipartMode = 'ok'): Out =>
    parts.map((ps): [BodyPlan, string] => [{ type: 'multipart', parts: ps, mode }, kind])
  const filenames = fc.constantFrom('../../etc/passwd', 'a"b.png', 'nul\u0000.png', '', `${'x'.repeat(1000)}.png`,
    'ünïcødé 🃏.png', 'a\r\nX-Injected: 1.png')
  const choices: Array<fc.Arbitrary<[BodyPlan, string]>> = [
    mp(valid.map((ps) => ps.filter((p) => p.name !== fileName)), 'missing-required'),
    mp(withFile({ data: Buffer.from('plain text, not an image\n'.repeat(8)), contentType: 'image/png' }),
      'not-an-image'),
    mp(withFile({ data: Buffer.alloc(0) }), 'empty-file'),
    mp(withFile({ data: bigImage }), 'too-large'),
    mp(withFile({ data: images[1]?.data, contentType: 'image/png', filename: 'lies.png' }), 'mislabelled-image'),
    mp(fc.tuple(valid, filenames).map(([ps, filename]) => ps.map((p) => p.name === fileName ? { ...p, filename } : p)),
      'weird-filename'),
    mp(fc.tuple(valid, imagePart(fileName)).map(([ps, extra]) => [...ps, extra]), 'two-files'),
    mp(fc.tuple(valid, fc.constantFrom('extra', 'ownerId', 'id', '__proto__'), printable)
      .map(([ps, name, value]) => [{ name, value }, ...ps]), 'extra-field'),
    mp(valid, 'truncated', 'truncated'),
    mp(valid, 'no-boundary', 'no-boundary'),
    mp(valid, 'wrong-boundary', 'wrong-boundary'),
    mp(valid, 'garbage', 'garbage'),
    valid.map((ps): [BodyPlan, string] =>
      [{ type: 'json', value: Object.fromEntries(ps.map((p) => [p.name, p.value ?? 'bytes'])) }, 'not-multipart'])
  ]
  for (const [k, p] of fields) {
    choices.push(fc.tuple(valid, invalidArb(p, k, false)).map(([ps, x]): [BodyPlan, string] => [
      { type: 'multipart', parts: [{ name: k, value: x.v }, ...ps.filter((q) => q.name !== k)], mode: 'ok' },
      `field-${x.kind}`
    ]))
  }
  return fc.oneof(...choices)
}

function multipartBytes (parts: Part[], mode: MultipartMode, n: number): { body: Buffer, contentType: string } {
  const boundary = `----fuzz-boundary-${n}`
  const contentType = `multipart/form-data; boundary=${boundary}`
  if (mode === 'garbage') {
    return { body: Buffer.from(`--${boundary}\r\n\u0000\u0001garbage\r\n--`.repeat(3)), contentType }
  }
  const chunks: Buffer[] = []
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`
    if (p.filename !== undefined) head += `; filename="${p.filename}"`
    head += '\r\n'
    if (p.contentType !== undefined) head += `Content-Type: ${p.contentType}\r\n`
    chunks.push(Buffer.from(`${head}\r\n`), p.data ?? Buffer.from(asText(p.value ?? '')), Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  const body = Buffer.concat(chunks)
  if (mode === 'truncated') return { body: body.subarray(0, Math.max(1, Math.floor(body.length * 0.6))), contentType }
  if (mode === 'no-boundary') return { body, contentType: 'multipart/form-data' }
  if (mode === 'wrong-boundary') return { body, contentType: 'multipart/form-data; boundary=not-the-boundary' }
  return { body, contentType }
}

// ---- Sending, and what a response must be.
interface Sent {
  method: string
  path: string
  query: string
  headers: Record<string, string>
  body: string | Buffer | undefined
  caller: Caller
  kind: string
  where: string
  /** The document rejects this input (so a 2xx is a mismatch). */
  invalid: boolean
}
interface Received {
  status: number
  contentType: string
  allow: string | null
  etag: string | null
  text: string
  bytes: number
  requestId: string
  error?: string
}

let requestCounter = 0
async function send (s: Sent): Promise<Received> {
  const requestId = `fuzz-${tag}-${++requestCounter}`
  const url = `${gw.url}${s.path}${s.query === '' ? '' : `?${s.query}`}`
  try {
    const res = await fetch(url, {
      method: s.method,
      headers: { ...s.headers, 'x-request-id': requestId },
      body: s.body === undefined ? undefined : typeof s.body === 'string' ? s.body : new Uint8Array(s.body),
      redirect: 'manual',
      signal: AbortSignal.timeout(15_000)
    })
    const buf = Buffer.from(await res.arrayBuffer())
    const contentType = (res.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
    const textual = /json|text|xml|html/.test(contentType) || contentType === ''
    return {
      status: res.status,
      contentType,
      allow: res.headers.get('allow'),
      etag: res.headers.get('etag'),
      text: textual ? buf.toString('utf8') : '',
      bytes: buf.length,
      requestId
    }
  } catch (err) {
    const error = String((err as Error).cause ?? err)
    return { status: 0, contentType: '', allow: null, etag: null, text: '', bytes: 0, requestId, error }
  }
}

interface Reason { code: string, cls: string, detail: string }
/** nginx's own HTML error page: the gateway answered, not the service. */
const fromNginx = (r: Received): boolean => r.contentType === 'text/html' && /<center>nginx<\/center>/.test(r.text)

/** Every way a response disagrees with the operation's document (empty: it matches), worst first. */
function check (op: Op, sent: Sent, r: Received): Reason[] {
  if (r.error !== undefined) return [{ code: 'no-response', cls: '', detail: r.error }]
  const out: Reason[] = []
  const origin = fromNginx(r) ? ' (nginx\'s own error page)' : ''
  if (r.status >= 500) out.push({ code: '5xx', cls: '', detail: `server error ${r.status}${origin}` })
  const ok = r.status >= 200 && r.status < 300
  if (ok && op.secured && (sent.caller === 'anon' || sent.caller === 'malformed')) {
    const detail = `${r.status} without a valid token on a secured operation`
    out.push({ code: 'auth-bypass', cls: sent.caller, detail })
  }
  if (ok && sent.invalid) {
    out.push({
      code: 'accepted-invalid',
      cls: `${sent.where.replace(/:.*/, '')} ${sent.kind}`,
      detail: `${r.status} for an input the document rejects (${sent.kind} at ${sent.where || 'the request'})`
    })
  }
  const responses = op.responses
  const documented = responses[String(r.status)] ?? responses[`${String(r.status)[0]}XX`] ?? responses.default
  if (documented === undefined) {
    const declared = Object.keys(responses).join(', ')
    const detail = `status ${r.status} is not declared (${declared})${origin}`
    out.push({ code: 'undeclared-status', cls: '', detail })
  }
  if (r.status >= 400 && r.contentType !== 'application/problem+json') {
    out.push({
      code: 'not-problem-json',
      cls: r.contentType,
      detail: `error ${r.status} has Content-Type ${r.contentType || '(none)'}, not application/problem+json${origin}`
    })
  }
  if (documented === undefined) return out
  const content = documented.content ?? {}
  if (Object.keys(content).length === 0) {
    const detail = `declared without a body, got ${r.bytes} bytes`
    if (r.bytes > 0) out.push({ code: 'unexpected-body', cls: '', detail })
    return out
  }
  if (content[r.contentType] === undefined) {
    const declared = Object.keys(content).join(', ')
    const detail = `Content-Type ${r.contentType || '(none)'} is not declared (${declared})`
    out.push({ code: 'content-type', cls: r.contentType, detail })
    return out
  }
  if (!/json/.test(r.contentType)) {
    if (r.bytes === 0) out.push({ code: 'empty-body', cls: r.contentType, detail: `an empty ${r.contentType} body` })
    return out
  }
  let body: unknown
  try { body = JSON.parse(r.text) } catch {
    return [...out, { code: 'body-not-json', cls: '', detail: 'the body is not JSON' }]
  }
  const schema = resolveRefs(content[r.contentType]?.schema ?? {}, docs[op.service])
  const v = validator(strictAjv, `res ${op.key} ${r.status} ${r.contentType}`, schema)
  if (!v(body)) {
    const errs = v.errors ?? []
    out.push({
      code: 'body-schema',
      cls: `${(errs[0]?.instancePath ?? '').replace(/\/\d+/g, '/*')} ${errs[0]?.keyword ?? ''}`,
      detail: errs.slice(0, 4)
        .map((e) => `body${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('; ')
    })
  }
  const problem = body as { status?: unknown } | null
  if (r.contentType === 'application/problem+json' && problem?.status !== r.status) {
    const detail = `problem body status ${String(problem?.status)} ≠ HTTP ${r.status}`
    out.push({ code: 'problem-status', cls: '', detail })
  }
  return [...out, ...searchOracle(op, sent, body)]
}

/** A `q` documented as "part of" a field matches literally: LIKE wildcards are not patterns. */
function searchOracle (op: Op, sent: Sent, body: unknown): Reason[] {
  const documented = op.params.some((p) => p.in === 'query' && p.name === 'q' && /\bpart of\b/i.test(p.description))
  if (!documented) return []
  const q = new URLSearchParams(sent.query).getAll('q')
  if (q.length !== 1 || !/^[\x20-\x7e]+$/.test(q[0] ?? '')) return [] // ASCII only: case folding is then plain
  const needle = (q[0] as string).toLowerCase()
  const items = (body as { items?: unknown } | null)?.items
  if (!Array.isArray(items)) return []
  const strings = (v: unknown): string[] => typeof v === 'string'
    ? [v]
    : v !== null && typeof v === 'object' ? Object.values(v).flatMap(strings) : []
  const miss = items.find((it) => !strings(it).some((s) => s.toLowerCase().includes(needle)))
  if (miss === undefined) return []
  return [{
    code: 'search-not-literal',
    cls: /[%_\\]/.test(needle) ? 'wildcard' : 'text',
    detail: `q=${JSON.stringify(q[0])} returned an item that does not contain it: ${JSON.stringify(miss).slice(0, 300)}`
  }]
}

/** Ids, words and ETags of a 2xx answer go into the pools. */
function harvest (op: Op, r: Received): void {
  if (r.status < 200 || r.status >= 300 || !/json/.test(r.contentType)) return
  let body: unknown
  try { body = JSON.parse(r.text) } catch { return }
  if (r.etag !== null) remember('etags', r.etag)
  const names: Record<string, PoolName> = { ...SEGMENT_POOLS, me: 'users', register: 'users', login: 'users' }
  const literal = op.template.split('/').filter((s) => s !== '' && !s.startsWith('{')).reverse()
  const resource = literal.map((s) => names[s]).find((x) => x !== undefined)
  const take = (o: unknown): void => {
    if (o === null || typeof o !== 'object') return
    const rec = o as Record<string, unknown>
    // Session ids only ever come from a throwaway account's own context.
    if (resource !== undefined && resource !== 'sessions') remember(resource, rec.id)
    for (const k of ['title', 'name', 'username']) {
      if (typeof rec[k] === 'string') remember('words', (rec[k] as string).split(/\s+/)[0]?.slice(0, 20))
    }
    if (rec.user !== undefined) take(rec.user)
  }
  take(body)
  const items = (body as { items?: unknown }).items
  if (Array.isArray(items)) items.slice(0, 10).forEach(take)
}

// ---- Findings: one per operation, status and worst reason; kinds, callers and counts accumulate.
interface Finding {
  op: Op
  reasons: Reason[]
  status: number
  count: number
  kinds: Set<string>
  callers: Set<Caller>
  ops: Set<string>
  gateway: boolean
  example: { sent: Sent, received: Received }
}
const findings = new Map<string, Finding>()
const statusesSeen = new Map<string, Map<number, number>>()
const size = (s: Sent): number => s.path.length + s.query.length + (s.body?.length ?? 0)

function record (op: Op, sent: Sent, r: Received): void {
  const seen = statusesSeen.get(op.key) ?? new Map<number, number>()
  seen.set(r.status, (seen.get(r.status) ?? 0) + 1)
  statusesSeen.set(op.key, seen)
  const reasons = check(op, sent, r)
  const worst = reasons[0]
  if (worst === undefined) return
  const key = `${op.key} | ${r.status} | ${worst.code} ${worst.cls}`
  const one: Finding = {
    op,
    reasons,
    status: r.status,
    count: 1,
    gateway: false,
    kinds: new Set([sent.kind]),
    callers: new Set([sent.caller]),
    ops: new Set([op.key]),
    example: { sent, received: r }
  }
  const f = findings.get(key)
  if (f === undefined) findings.set(key, one)
  else merge(f, one)
}

/** Adds `g` into `f`; the smallest request is the example (shrinking cannot replay against a live stack). */
function merge (f: Finding, g: Finding): void {
  f.count += g.count
  for (const k of g.kinds) f.kinds.add(k)
  for (const c of g.callers) f.callers.add(c)
  for (const o of g.ops) f.ops.add(o)
  if (size(g.example.sent) < size(f.example.sent)) { f.example = g.example; f.reasons = g.reasons; f.op = g.op }
}

/**
 * Which findings nginx answered itself: from its access log (requests it passed on have an
 * upstream status; a request line it could not parse is logged under an id of its own).
 * Those become one finding per status and reason for the gateway, whatever the operation.
 */
async function attributeToGateway (): Promise<Finding[]> {
  await new Promise((resolve) => setTimeout(resolve, 1500)) // the access log is flushed every second
  const upstreamOf = new Map<string, string>()
  for (const line of (await readFile(accessLog, 'utf8')).split('\n')) {
    if (line.trim() === '') continue
    const l = JSON.parse(line) as { requestId?: string, upstreamStatus?: string }
    if (l.requestId !== undefined) upstreamOf.set(l.requestId, l.upstreamStatus ?? '')
  }
  const byKey = new Map<string, Finding>()
  for (const f of findings.values()) {
    const upstreamStatus = upstreamOf.get(f.example.received.requestId)
    f.gateway = fromNginx(f.example.received) || upstreamStatus === undefined || upstreamStatus === ''
    const worst = f.reasons[0] as Reason
    const key = `${f.gateway ? 'gateway' : f.op.key} | ${f.status} | ${worst.code} ${worst.cls}`
    const g = byKey.get(key)
    if (g === undefined) byKey.set(key, f)
    else merge(g, f)
  }
  return [...byKey.values()]
}

const clip = (s: string, n = 1500): string => s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s
const logsOf = (requestId: string): LogLine[] => Object.values(services).flatMap((s) => s.logs.withRequestId(requestId))
const headline = (f: Finding): string => {
  const worst = f.reasons[0] as Reason
  return `${f.gateway ? 'gateway' : f.op.key} → ${f.status}: ${worst.detail.slice(0, 160)} ` +
    `[${[...f.kinds].sort().join(', ')}]`
}
function describe (f: Finding): Record<string, unknown> {
  const { sent, received } = f.example
  const printableBody = (b: string | Buffer): string => Buffer.isBuffer(b)
    ? clip(b.toString('latin1').replace(/[^\x20-\x7e\r\n]/g, '.'), 800)
    : clip(b)
  return {
    seed: SEED,
    reproduce: REPRODUCE,
    why: f.reasons.map((r) => r.detail),
    occurrences: f.count,
    operations: f.gateway ? [...f.ops].sort() : undefined,
    inputKinds: [...f.kinds].sort(),
    callers: [...f.callers].sort(),
    request: {
      operation: f.op.key,
      method: sent.method,
      path: clip(sent.path, 300),
      query: clip(sent.query, 300),
      caller: sent.caller,
      kind: sent.kind,
      where: sent.where === '' ? undefined : sent.where,
      headers: Object.fromEntries(Object.entries(sent.headers).map(([k, v]) => [k, clip(v, 80)])),
      body: sent.body === undefined ? undefined : printableBody(sent.body)
    },
    response: {
      status: received.status,
      contentType: received.contentType,
      allow: received.allow ?? undefined,
      body: clip(received.text),
      requestId: received.requestId
    },
    serverLog: received.status >= 500
      ? logsOf(received.requestId).map((l) => clip(JSON.stringify(l), 1200))
      : undefined
  }
}

// ---- Callers: a verified user, the bootstrap admin, throwaway accounts.
interface Account {
  id: string
  email: string
  password: string
  accessToken: string
  refreshToken: string
  sessionId?: string
}
interface ApiResult { status: number, body: any }
async function api (method: string, path: string, o: { token?: string, json?: unknown } = {}): Promise<ApiResult> {
  const headers: Record<string, string> = {}
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`
  if (o.json !== undefined) headers['content-type'] = 'application/json'
  const body = o.json === undefined ? undefined : JSON.stringify(o.json)
  const res = await fetch(`${gw.url}${path}`, { method, headers, body })
  const text = await res.text()
  let parsed: any
  try { parsed = JSON.parse(text) } catch { parsed = text }
  return { status: res.status, body: parsed }
}
async function must (what: string, status: number, p: Promise<ApiResult>): Promise<any> {
  const r = await p
  if (r.status !== status) {
    const body = JSON.stringify(r.body).slice(0, 500)
    throw new Error(`fuzz setup: ${what} answered ${r.status}, expected ${status}: ${body}`)
  }
  return r.body
}

let accountCounter = 0
async function newAccount (): Promise<Account> {
  const n = ++accountCounter
  const a = {
    email: `fuzz-${tag}-${n}@example.test`,
    username: `fz_${tag}_${n}`,
    password: `Fuzz passphrase ${tag} ${n}`
  }
  const reg = await must('register', 201, api('POST', '/api/v1/auth/register', { json: a }))
  return { id: reg.user.id, ...a, accessToken: reg.accessToken, refreshToken: reg.refreshToken }
}

const adminLogin = await must('admin login', 200, api('POST', '/api/v1/auth/login', { json: admin }))
const adminAccount: Account = {
  id: adminLogin.user.id,
  email: admin.email,
  password: admin.password,
  accessToken: adminLogin.accessToken,
  refreshToken: adminLogin.refreshToken
}
async function promote (a: Account): Promise<Account> {
  const roles = { roles: ['user', 'creator', 'admin'] }
  const asAdmin = { token: adminAccount.accessToken }
  await must('grant admin', 200, api('PATCH', `/api/v1/auth/users/${a.id}`, { ...asAdmin, json: roles }))
  const credentials = { email: a.email, password: a.password }
  const login = await must('login again', 200, api('POST', '/api/v1/auth/login', { json: credentials }))
  return { ...a, accessToken: login.accessToken, refreshToken: login.refreshToken }
}
async function withSession (a: Account): Promise<Account> {
  const sessions = await must('sessions', 200, api('GET', '/api/v1/auth/sessions', { token: a.accessToken }))
  const items = sessions.items as Array<{ id: string, current: boolean }>
  return { ...a, sessionId: items.find((s) => s.current)?.id ?? items[0]?.id }
}

const user = await newAccount()
{
  const welcome = await mail.waitFor(user.email, /Confirm your Holo Cards email/)
  const token = /Token: (\S+)/.exec(welcome.text)?.[1] ?? ''
  await must('verify email', 204, api('POST', '/api/v1/auth/verify-email', { json: { token } }))
}

/** Authorization headers that must not work: malformed, tampered, unsigned, forged. */
function malformedHeaders (a: Account): string[] {
  const [h = '', p = '', sig = ''] = a.accessToken.split('.')
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  const unb64 = (s: string): Record<string, unknown> => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'))
  const claims = unb64(p)
  return [
    'Bearer',
    'Bearer not-a-jwt',
    'Basic dXNlcjpwYXNzd29yZA==',
    'Bearer a.b.c',
    `Token ${a.accessToken}`,
    `Bearer ${h}.${p}.${(sig.startsWith('A') ? 'B' : 'A') + sig.slice(1)}`,
    `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, sub: adminAccount.id, roles: ['admin'] })}.`,
    `Bearer ${h}.${b64({ ...claims, roles: ['admin'] })}.${sig}`,
    `Bearer ${b64({ ...unb64(h), kid: '../../etc/passwd' })}.${p}.${sig}`,
    `Bearer ${'a'.repeat(4000)}`,
    `Bearer ${a.accessToken} ${a.accessToken}`
  ]
}
const MALFORMED = malformedHeaders(user)

// Fixtures, so ids in paths often name something real.
{
  const asUser = { token: user.accessToken }
  const card = await must('create card', 201, api('POST', '/api/v1/cards',
    { ...asUser, json: { title: 'Fuzz fixture fox', tags: ['fox'], visibility: 'public' } }))
  const priv = await must('create private card', 201, api('POST', '/api/v1/cards',
    { ...asUser, json: { title: 'Private fuzz card', visibility: 'private' } }))
  const template = await must('create template', 201, api('POST', '/api/v1/templates', {
    token: adminAccount.accessToken,
    json: {
      name: 'Fuzz frame',
      layout: TemplateExample.layout,
      status: 'published'
    }
  }))
  const collection = await must('create collection', 201, api('POST', '/api/v1/collections',
    { ...asUser, json: { name: 'Fuzz favourites', visibility: 'public' } }))
  await must('add to collection', 204, api('PUT', `/api/v1/collections/${collection.id}/cards/${card.id}`,
    { ...asUser, json: { position: 0 } }))
  const { body, contentType } = multipartBytes([
    { name: 'purpose', value: 'artwork' },
    { name: 'visibility', value: 'public' },
    { name: 'file', filename: 'fox.png', contentType: 'image/png', data: images[0]?.data }
  ], 'ok', 0)
  const up = await fetch(`${gw.url}/api/v1/files`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': contentType },
    body: new Uint8Array(body)
  })
  if (up.status !== 201) throw new Error(`fuzz setup: upload answered ${up.status}: ${await up.text()}`)
  const uploaded = await up.json() as { id: string }
  for (const id of [card.id, priv.id]) remember('cards', id)
  remember('templates', template.id)
  remember('collections', collection.id)
  remember('files', uploaded.id)
  for (const a of [user, adminAccount]) {
    remember('users', a.id)
    remember('emails', a.email)
    remember('passwords', a.password)
  }
  for (const w of ['fox', 'fuzz', 'frame', 'fz_', 'example']) remember('words', w)
}

/** Sends one planned request of `op` as the plan's caller (throwaway accounts when `throwaway`). */
async function runPlan (op: Op, plan: Plan, throwaway: boolean): Promise<void> {
  let ctx: Context = {}
  let caller: Account | undefined
  if (throwaway) {
    // The victim is what the case's ids and tokens name; the caller is the victim or a fresh admin.
    const victim = await withSession(await newAccount())
    // Every id a case can name is the victim's: never the shared user's or the bootstrap admin's.
    ctx = {
      users: [victim.id],
      ids: [victim.id],
      sessions: [victim.sessionId ?? ''],
      refreshTokens: [victim.refreshToken],
      passwords: [victim.password],
      emails: [victim.email]
    }
    if (plan.caller === 'user') caller = victim
    if (plan.caller === 'admin') caller = await promote(await newAccount())
  } else if (plan.caller === 'user') caller = user
  else if (plan.caller === 'admin') caller = adminAccount
  const headers: Record<string, string> = {}
  if (caller !== undefined) headers.authorization = `Bearer ${caller.accessToken}`
  if (plan.caller === 'malformed') headers.authorization = MALFORMED[plan.malformedIndex % MALFORMED.length] as string
  let invalid = false

  // Path: each parameter percent-encoded, unless the plan has a raw (malformed) one.
  let path = op.template
  for (const p of op.params.filter((x) => x.in === 'path')) {
    const given = plan.path[p.name]
    let text = asText(resolve(given?.v, ctx))
    if (text === '' || text === '.' || text === '..') text = ` ${text}` // no empty or dot segment: same route
    if (!paramValid(`path ${op.key} ${p.name}`, p.schema, text)) invalid = true
    path = path.replace(`{${p.name}}`, given?.raw ?? enc(text))
  }
  // Query: repeated and unknown parameters are not judged (the document is silent on them).
  const pieces: string[] = []
  for (const q of plan.query) {
    if (q.raw !== undefined) { pieces.push(`${enc(q.name)}=${q.raw}`); continue }
    const value = resolve(q.v, ctx)
    const values = Array.isArray(value) ? value : [value]
    for (const v of values) pieces.push(`${enc(q.name)}=${enc(asText(v))}`)
    const param = op.params.find((p) => p.in === 'query' && p.name === q.name)
    const once = plan.query.filter((x) => x.name === q.name).length === 1
    if (param !== undefined && once && !Array.isArray(value) &&
      !paramValid(`query ${op.key} ${q.name}`, param.schema, asText(value))) invalid = true
  }
  if (plan.kind === 'missing-required') invalid = true
  for (const [name, v] of Object.entries(plan.headers)) {
    headers[name] = asText(resolve(v, ctx)).replace(/[^\x20-\x7e]/g, '') // fetch refuses other bytes
  }
  // Body.
  let body: string | Buffer | undefined
  const b = plan.body
  const jsonBodyInvalid = (value: unknown): boolean =>
    op.body === undefined || op.body.media.startsWith('multipart/') ||
    !validator(strictAjv, `req ${op.key}`, resolveRefs(op.body.schema, docs[op.service]))(value)
  if (b.type === 'json') {
    const value = resolve(b.value, ctx)
    body = JSON.stringify(value) ?? 'null'
    headers['content-type'] = b.contentType ?? 'application/json'
    if (jsonBodyInvalid(value)) invalid = true
  } else if (b.type === 'raw') {
    const raw = typeof b.text === 'function' ? b.text(JSON.stringify(resolve(b.value, ctx)) ?? '{}') : b.text
    body = raw
    if (b.contentType !== undefined) headers['content-type'] = b.contentType
    if (b.judge === 'invalid') invalid = true
    else {
      let parsed: unknown
      try { parsed = JSON.parse(String(raw).replace(/^\uFEFF/, '')) } catch { parsed = undefined }
      if (parsed === undefined || jsonBodyInvalid(parsed)) invalid = true
    }
  } else if (b.type === 'multipart') {
    const parts = b.parts.map((p) => ({ ...p, value: resolve(p.value, ctx) }))
    const built = multipartBytes(parts, b.mode, requestCounter + 1)
    body = built.body
    headers['content-type'] = built.contentType
    if (MULTIPART_INVALID.has(plan.kind)) invalid = true
    const fields = ((op.body === undefined ? {} : merged(op.body.schema).properties) ?? {}) as Record<string, Schema>
    for (const p of parts) {
      const s = fields[p.name]
      if (s === undefined || p.data !== undefined) continue
      if (!paramValid(`mp ${op.key} ${p.name}`, s, asText(p.value))) invalid = true
    }
  } else if (op.body?.required === true) invalid = true

  const sent: Sent = {
    method: op.method,
    path,
    query: pieces.join('&'),
    headers,
    body,
    caller: plan.caller,
    kind: plan.kind,
    where: plan.where,
    invalid
  }
  const received = await send(sent)
  record(op, sent, received)
  if (!throwaway) harvest(op, received)
}

/** FNV-1a: each operation's cases depend on the seed and its own name only. */
function hash (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193) }
  return h | 0
}

const harnessErrors: Array<{ op: string, error: string }> = []
async function fuzz (op: Op, runs: number, throwaway: boolean): Promise<void> {
  const t0 = Date.now()
  try {
    await fc.assert(fc.asyncProperty(planArb(op), async (plan) => { await runPlan(op, plan, throwaway) }), {
      seed: (SEED ^ hash(op.key)) | 0,
      numRuns: runs,
      endOnFailure: true // the live stack changes between cases: shrinking would not replay
    })
  } catch (err) {
    const causes: string[] = []
    for (let e: unknown = err; e instanceof Error && causes.length < 4; e = e.cause) causes.push(e.message)
    harnessErrors.push({ op: op.key, error: causes.join(' ← ') })
  }
  const statuses = [...(statusesSeen.get(op.key) ?? new Map<number, number>()).entries()]
    .sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')
  t.comment(`${op.key}: ${runs} cases in ${Date.now() - t0} ms, statuses ${statuses}`)
}

// Reads first, then writes; deletes last (they only thin the pools for later operations).
// Operations that could lock the fuzzer out come last, each case on accounts of its own.
const ORDER = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']
const byOrder = (a: Op, b: Op): number => ORDER.indexOf(a.method) - ORDER.indexOf(b.method)
const fuzzStart = Date.now()
const MIN_RUNS = 5
let cut = 0
const runsFor = (wanted: number): number => {
  if (Date.now() - fuzzStart < BUDGET_MS) return wanted
  cut++
  return Math.min(wanted, MIN_RUNS)
}
for (const service of SERVICES) {
  for (const op of ops.filter((o) => o.service === service && !DESTRUCTIVE.has(o.key)).sort(byOrder)) {
    await fuzz(op, runsFor(RUNS), false)
  }
}
// Each of these cases registers its own accounts: half the cases keep the time bounded.
for (const op of ops.filter((o) => DESTRUCTIVE.has(o.key))) {
  await fuzz(op, runsFor(Math.max(MIN_RUNS, Math.ceil(RUNS / 2))), true)
}
if (cut > 0) t.comment(`over the ${BUDGET_MS / 1000} s budget: the last ${cut} operations ran ${MIN_RUNS} cases each`)
const reported = await attributeToGateway()

t.test('the fuzzer covers every operation', async (t) => {
  for (const key of DESTRUCTIVE) t.ok(ops.some((op) => op.key === key), `${key} is documented (else the list is stale)`)
  t.ok(ops.length >= 49, `${ops.length} operations in the documents`)
  for (const op of ops) t.ok(statusesSeen.has(op.key), `${op.key} was fuzzed`)
  for (const e of harnessErrors) {
    t.fail(`${e.op}: the fuzzer itself failed`, { seed: SEED, reproduce: REPRODUCE, error: e.error })
  }
})

for (const service of SERVICES) {
  t.test(`${service}: every answer matches the document`, async (t) => {
    for (const op of ops.filter((o) => o.service === service)) {
      const mine = reported.filter((f) => !f.gateway && f.op.key === op.key)
      if (mine.length === 0) t.pass(`${op.key}: every answer matches the document`)
      for (const f of mine) t.fail(headline(f), describe(f))
    }
  })
}

t.test('gateway: nginx\'s own answers to the fuzzed requests match the documents', async (t) => {
  const mine = reported.filter((f) => f.gateway)
  if (mine.length === 0) t.pass('every fuzzed request nginx answered itself got a declared status and problem')
  for (const f of mine) t.fail(headline(f), describe(f))
})

t.test('every path answers an undeclared method with 405 and Allow', async (t) => {
  const problems: Array<{ request: string, why: string }> = []
  let checked = 0
  for (const [service, doc] of Object.entries(docs) as Array<[ServiceName, Doc]>) {
    const raw = (doc.components?.schemas as Schema | undefined)?.Problem
    const problemSchema = raw === undefined ? undefined : resolveRefs(raw, doc)
    for (const [template, item] of Object.entries(doc.paths)) {
      const declared = METHODS.filter((m) => (item as Schema)[m] !== undefined).map((m) => m.toUpperCase())
      const path = template.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000')
      for (const method of METHODS.map((m) => m.toUpperCase()).filter((m) => !declared.includes(m))) {
        // Another documented operation owns this request (DELETE /files/usage is DELETE /files/{id}).
        if (ops.some((op) => op.method === method && op.regex.test(path))) continue
        checked++
        const r = await send({
          method, path, query: '', headers: { authorization: `Bearer ${user.accessToken}` }, body: undefined,
          caller: 'user', kind: 'undeclared-method', where: '', invalid: true
        })
        const allow = (r.allow ?? '').split(',').map((s) => s.trim().toUpperCase()).filter((s) => s !== '')
        const why: string[] = []
        if (r.status !== 405) why.push(`status ${r.status}`)
        if (r.allow === null) why.push('no Allow header')
        else {
          const missing = declared.filter((m) => !allow.includes(m))
          if (missing.length > 0) why.push(`Allow lacks ${missing.join(', ')}`)
          if (allow.includes(method)) why.push(`Allow lists ${method}`)
        }
        if (r.contentType !== 'application/problem+json') why.push(`Content-Type ${r.contentType || '(none)'}`)
        else if (problemSchema !== undefined) {
          let body: unknown
          try { body = JSON.parse(r.text) } catch { body = undefined }
          if (!validator(strictAjv, `problem ${service}`, problemSchema)(body)) why.push('the body is not a Problem')
          else if ((body as { status?: unknown }).status !== r.status) why.push('the problem\'s status differs')
        }
        const request = `${method} ${template} (Allow: ${r.allow ?? '-'})`
        if (why.length > 0) problems.push({ request, why: why.join('; ') })
      }
    }
  }
  // One assertion per distinct answer, listing its requests: a missing 405 is one failure, not forty.
  const byWhy = new Map<string, string[]>()
  for (const p of problems) byWhy.set(p.why, [...(byWhy.get(p.why) ?? []), p.request])
  for (const [why, requests] of byWhy) {
    t.fail(`undeclared method: ${why} (${requests.length} of ${checked})`, { requests })
  }
  if (problems.length === 0) t.pass(`${checked} undeclared method/path pairs answer 405 with Allow`)
})

t.test('the checks themselves catch drift', async (t) => {
  const me = ops.find((o) => o.key === 'GET /api/v1/auth/me')
  const users = ops.find((o) => o.key === 'GET /api/v1/auth/users')
  if (me === undefined || users === undefined) return t.fail('GET /api/v1/auth/me and /users are documented')
  const real = await api('GET', '/api/v1/auth/me', { token: user.accessToken })
  const text = JSON.stringify(real.body)
  const sent: Sent = {
    method: 'GET', path: '/api/v1/auth/me', query: '', headers: {}, body: undefined,
    caller: 'user', kind: 'valid', where: '', invalid: false
  }
  const ok: Received = {
    status: 200, contentType: 'application/json', allow: null, etag: null, text, bytes: text.length, requestId: 'x'
  }
  const codes = (o: Op, s: Sent, r: Received): string[] => check(o, s, r).map((x) => x.code)
  t.same(codes(me, sent, ok), [], 'a real GET /me matches')
  t.match(codes(me, sent, { ...ok, status: 500 }), ['5xx'], 'a 500')
  t.match(codes(me, sent, { ...ok, status: 418 }), ['undeclared-status'], 'an undeclared status')
  t.match(codes(me, sent, { ...ok, status: 401 }), ['not-problem-json'], 'an error without problem+json')
  t.match(codes(me, sent, { ...ok, contentType: 'text/html' }), ['content-type'], 'an undeclared Content-Type')
  const { id: _id, ...noId } = real.body as Record<string, unknown>
  t.match(codes(me, sent, { ...ok, text: JSON.stringify(noId) }), ['body-schema'], 'a body without a required field')
  t.match(codes(me, { ...sent, invalid: true }, ok), ['accepted-invalid'], 'a 2xx for an invalid input')
  t.match(codes({ ...me, secured: true }, { ...sent, caller: 'anon' }, ok), ['auth-bypass'], 'a 2xx without a token')
  const listed = JSON.stringify({ items: [real.body], nextCursor: null })
  const wildcard = { ...sent, path: '/api/v1/auth/users', query: 'q=%25' }
  t.ok(codes(users, wildcard, { ...ok, text: listed }).includes('search-not-literal'), 'q=% matching everything')
})

t.test('summary', async (t) => {
  const list = reported
  t.comment(`${requestCounter} requests in ${Math.round((Date.now() - started) / 1000)} s, ` +
    `${list.length} distinct findings, seed ${SEED}`)
  for (const f of list) {
    const where = f.gateway ? `gateway (${f.ops.size} operations)` : `[${f.op.service}] ${f.op.key}`
    t.comment(`  ${where} → ${f.status} ${(f.reasons[0] as Reason).code} ×${f.count} ` +
      `kinds=${[...f.kinds].sort().join(',')} callers=${[...f.callers].sort().join(',')}`)
  }
  // The same status and reason on many operations is most likely one cause.
  const causes = new Map<string, { ops: string[], kinds: Set<string> }>()
  for (const f of list) {
    const cause = `${f.status} ${(f.reasons[0] as Reason).code}`
    const c = causes.get(cause) ?? { ops: [], kinds: new Set<string>() }
    c.ops.push(f.gateway ? 'gateway' : f.op.key)
    for (const k of f.kinds) c.kinds.add(k)
    causes.set(cause, c)
  }
  for (const [cause, c] of causes) {
    const kinds = [...c.kinds].sort().join(', ')
    t.comment(`cause: ${cause} for ${kinds} on ${c.ops.length} operation(s): ${c.ops.join('; ')}`)
  }
  t.ok(requestCounter >= ops.length * Math.min(RUNS, 5), 'requests were sent for every operation')
})
