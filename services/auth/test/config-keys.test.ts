import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { tempDir } from '@holo/infra/testing'
import { DEV_ADMIN_PASSWORD, loadConfig } from '../src/config.js'
import { generateSigningKeyPem, loadSigningKeys, parseSigningKeys } from '../src/keys.js'
import { PasswordHasher, passwordProblem } from '../src/passwords.js'
import { bearer, buildTestApp, register } from './helper.js'

const derOf = (pem: string): string => createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' }).toString('base64')
const kidOf = (jwt: string): string => JSON.parse(Buffer.from(jwt.split('.')[0] ?? '', 'base64url').toString()).kid

t.test('config', async (t) => {
  const config = loadConfig({})
  t.equal(config.ARGON2_MEMORY_KIB, 19456, 'OWASP memory by default')
  t.equal(config.ARGON2_TIME_COST, 2)
  t.equal(config.ARGON2_PARALLELISM, 1)
  t.equal(config.ACCESS_TOKEN_TTL_SECONDS, 900)
  t.equal(config.REFRESH_TOKEN_TTL_SECONDS, 30 * 24 * 3600)
  t.equal(config.REFRESH_REUSE_GRACE_SECONDS, 10)
  t.equal(config.PASSWORD_RESET_TTL_SECONDS, 1800)

  const prod = {
    NODE_ENV: 'production',
    PUBLIC_URL: 'https://holo.cards',
    AUTH_SIGNING_KEYS: `k1:${derOf(generateSigningKeyPem())}`
  }
  t.ok(loadConfig(prod), 'a safe production config loads')
  t.throws(() => loadConfig({ ...prod, AUTH_SIGNING_KEYS: undefined }), /no signing key/)
  t.throws(
    () => loadConfig({ ...prod, BOOTSTRAP_ADMIN_EMAIL: 'a@b.c', BOOTSTRAP_ADMIN_PASSWORD: DEV_ADMIN_PASSWORD }),
    /development default/
  )
  t.throws(() => loadConfig({ ...prod, ARGON2_MEMORY_KIB: '1024' }), /OWASP/)
  t.throws(() => loadConfig({ ...prod, PUBLIC_URL: 'http://holo.cards' }), /https/)
  t.throws(() => loadConfig({ BOOTSTRAP_ADMIN_EMAIL: 'a@b.c' }), /set together/)
  t.throws(() => loadConfig({ REFRESH_REUSE_GRACE_SECONDS: 'soon' }), /REFRESH_REUSE_GRACE_SECONDS/)
  try {
    loadConfig({ BOOTSTRAP_ADMIN_EMAIL: 'a@b.c', BOOTSTRAP_ADMIN_PASSWORD: 'short' })
    t.fail('short bootstrap password accepted')
  } catch (err) {
    t.notMatch(String(err), /short/, 'secrets are not echoed in config errors')
  }
})

t.test('signing keys', async (t) => {
  const ephemeral = await loadSigningKeys(loadConfig({ NODE_ENV: 'test' }))
  t.match(ephemeral.activeKid, /^ephemeral-/, 'development and tests get an ephemeral key')
  t.throws(() => parseSigningKeys('no-colon'), /kid:base64/)
  t.throws(() => parseSigningKeys('k1:bm90IGEga2V5'), /not a PKCS#8/)
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
    .export({ type: 'pkcs8', format: 'der' })
    .toString('base64')
  await t.rejects(loadSigningKeys(loadConfig({ AUTH_SIGNING_KEYS: `k1:${ec}` })), /not an Ed25519 key/)
  await t.rejects(
    loadSigningKeys(loadConfig({ AUTH_SIGNING_KEYS: `k1:${derOf(generateSigningKeyPem())}`, AUTH_ACTIVE_KID: 'k2' })),
    /AUTH_ACTIVE_KID/
  )
  const two = await loadSigningKeys(loadConfig({
    AUTH_SIGNING_KEYS: `2026-01:${derOf(generateSigningKeyPem())},2026-11:${derOf(generateSigningKeyPem())}`
  }))
  t.equal(two.activeKid, '2026-11', 'without AUTH_ACTIVE_KID the greatest kid signs')
  t.same(two.jwks().keys.map((k) => k.kid), ['2026-01', '2026-11'])
})

t.test('key rotation: tokens of the previous key stay valid until it is removed', async (t) => {
  const oldPem = generateSigningKeyPem()
  const newPem = generateSigningKeyPem()
  const first = await buildTestApp(t, { AUTH_SIGNING_KEYS: `2026-10:${derOf(oldPem)}` })
  const { tokens } = await register(first.app)
  t.equal(kidOf(tokens.accessToken), '2026-10')

  // Rotation: the new key signs; the old one stays, public only, in the keys directory.
  const dir = await tempDir(t, 'holo-keys-')
  await mkdir(dir, { recursive: true })
  await writeFile(path.join(dir, '2026-10.pem'), createPublicKey(oldPem).export({ type: 'spki', format: 'pem' }))
  await writeFile(path.join(dir, '2026-11.pem'), newPem)
  const rotated = await buildTestApp(
    t,
    { AUTH_KEYS_DIR: dir, AUTH_ACTIVE_KID: '2026-11' },
    { databaseUrl: first.config.DATABASE_URL }
  )
  t.equal((await rotated.app.inject({
    url: '/api/v1/auth/me',
    headers: bearer(tokens.accessToken)
  })).statusCode, 200, 'old token still verifies')
  const jwks = (await rotated.app.inject({ url: '/api/v1/auth/.well-known/jwks.json' })).json() as {
    keys: Array<{ kid: string }>
  }
  t.same(jwks.keys.map((k) => k.kid).sort(), ['2026-10', '2026-11'])
  const refreshed = await rotated.app.inject({
    method: 'POST',
    url: '/api/v1/auth/refresh',
    payload: { refreshToken: tokens.refreshToken }
  })
  t.equal(kidOf(refreshed.json().accessToken), '2026-11', 'new tokens carry the new kid')

  // Retirement: the old key is gone from the configuration.
  const retired = await buildTestApp(
    t,
    { AUTH_SIGNING_KEYS: `2026-11:${derOf(newPem)}` },
    { databaseUrl: first.config.DATABASE_URL }
  )
  t.equal((await retired.app.inject({
    url: '/api/v1/auth/me',
    headers: bearer(tokens.accessToken)
  })).statusCode, 401, 'retired key no longer verifies')
  t.equal((await retired.app.inject({
    url: '/api/v1/auth/me',
    headers: bearer(refreshed.json().accessToken)
  })).statusCode, 200)
})

t.test('passwords', async (t) => {
  const hasher = new PasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 })
  // Count event-loop turns while one OWASP-strength hash runs: a blocking hash would allow none.
  let turns = 0
  let done = false
  const spin = (): void => { if (!done) { turns++; setImmediate(spin) } }
  setImmediate(spin)
  const hash = await hasher.hash('a long enough passphrase')
  done = true
  t.ok(turns > 1, `the event loop kept turning during hashing (${turns} turns)`)
  t.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
  t.ok(await hasher.verify(hash, 'a long enough passphrase'))
  t.notOk(await hasher.verify(hash, 'another passphrase'))
  t.notOk(await hasher.verify('not a hash', 'x'), 'a corrupt hash never matches')
  t.equal(passwordProblem('a perfectly fine passphrase'), undefined)
  t.match(passwordProblem('Password123') ?? '', /common/)
  t.match(passwordProblem('abababababab') ?? '', /different/)
  t.match(passwordProblem('ada_lovelace', { username: 'ada_lovelace' }) ?? '', /username/)
})

t.test('every route documents itself in OpenAPI', async (t) => {
  const { app } = await buildTestApp(t)
  interface Operation {
    summary?: string
    tags?: string[]
    security?: unknown[]
    responses: Record<string, unknown>
    requestBody?: unknown
  }
  const doc = (await app.inject({ url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, Operation>>
  }
  const ops = Object.entries(doc.paths)
    .filter(([p]) => p.startsWith('/api/v1/auth'))
    .flatMap(([p, methods]) => Object.entries(methods).map(([m, op]) => ({ id: `${m.toUpperCase()} ${p}`, op })))
  t.equal(ops.length, 34, 'every operation is in the document')
  for (const { id, op } of ops) {
    t.ok(op.summary, `${id} has a summary`)
    t.ok(op.tags?.length, `${id} has tags`)
    if (!id.includes('jwks')) {
      t.ok(Object.keys(op.responses).some((s) => s.startsWith('4')), `${id} documents its problems`)
    }
  }
  const security = (id: string): unknown => ops.find((o) => o.id === id)?.op.security
  const secured = [
    'GET /api/v1/auth/me',
    'POST /api/v1/auth/logout-all',
    'GET /api/v1/auth/users',
    'GET /api/v1/auth/sessions',
    'GET /api/v1/auth/users/{id}/sessions',
    'DELETE /api/v1/auth/users/{id}/sessions',
    'DELETE /api/v1/auth/users/{id}/sessions/{sessionId}',
    'GET /api/v1/auth/identities',
    'POST /api/v1/auth/identities',
    'DELETE /api/v1/auth/identities/{id}',
    'POST /api/v1/auth/oauth/{provider}/link',
    'GET /api/v1/auth/roles',
    'PUT /api/v1/auth/roles/{name}',
    'DELETE /api/v1/auth/roles/{name}'
  ]
  for (const id of secured) t.same(security(id), [{ bearerAuth: [] }], `${id} needs a bearer token`)
  const open = [
    'POST /api/v1/auth/register', 'POST /api/v1/auth/login', 'GET /api/v1/auth/profiles/{id}',
    'GET /api/v1/auth/oauth/providers', 'GET /api/v1/auth/oauth/{provider}/start',
    'GET /api/v1/auth/oauth/{provider}/callback', 'POST /api/v1/auth/oauth/{provider}/callback',
    'POST /api/v1/auth/oauth/exchange'
  ]
  for (const id of open) t.same(security(id), [], `${id} needs no token`)
  const permissioned = [
    'GET /api/v1/auth/users', 'GET /api/v1/auth/roles', 'PUT /api/v1/auth/roles/{name}',
    'DELETE /api/v1/auth/users/{id}/sessions', 'DELETE /api/v1/auth/users/{id}/sessions/{sessionId}'
  ]
  for (const id of permissioned) {
    t.ok(ops.find((o) => o.id === id)?.op.responses['403'], `${id} documents its 403 (a permission)`)
  }
})
