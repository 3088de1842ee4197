import { randomBytes, randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import {
  freePort, testDatabase, testIssuer, testRedisUrl, testRolesKey, testStreamPrefix, type Teardown, type TestDatabase,
  type TestIssuer
} from '@holo/infra/testing'
import type { Role } from '@holo/shared'
// The real file service, for the artworkFileId check (services/card/tsconfig.json has rootDir '..' for this).
import { buildTestApp as buildFileTestApp, imageForm, makeImage } from '../../file/test/helper.js'
import { buildApp, type AppOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { closeDeps, createDeps, type Deps } from '../src/deps.js'

export interface TestUser { id: string, token: string, auth: { authorization: string } }

export interface TestApp {
  app: FastifyInstance
  deps: Deps
  config: Config
  issuer: TestIssuer
  /** A signed-in user with a fresh id. */
  /** Its database (tests read the outbox through it). */
  db: TestDatabase
  user: (roles?: Role[]) => TestUser
  /** Creates a card as `owner` and returns its body. */
  card: (owner: TestUser, body?: Record<string, unknown>) => Promise<Record<string, any>>
}

/**
 * The real card app on its own fresh database, the shared Redis under a key
 * prefix of its own, and a test token issuer standing in for the auth service.
 * FILE_SERVICE_URL points at a closed port: a test that needs the file service
 * uses buildTestAppWithFiles.
 */
export async function buildTestApp (
  t: Teardown,
  env: Record<string, string> = {},
  options: AppOptions = {},
  withIssuer?: TestIssuer
): Promise<TestApp> {
  const [db, issuer, closedPort] = await Promise.all([testDatabase(t), withIssuer ?? testIssuer(t), freePort()])
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: db.urlFor('card'),
    REDIS_URL: testRedisUrl(),
    AUTH_JWKS_URL: issuer.jwksUrl,
    AUTH_ISSUER: issuer.issuer,
    ROLES_REGISTRY_KEY: testRolesKey(),
    CACHE_PREFIX: `test:card:${randomBytes(6).toString('hex')}:`,
    FILE_SERVICE_URL: `http://127.0.0.1:${closedPort}`,
    EVENTS_STREAM_PREFIX: testStreamPrefix(t),
    ...env
  })
  const deps = await createDeps(config)
  const app = await buildApp(config, deps, options)
  t.teardown(async () => { await app.close(); await closeDeps(deps) })
  const user = (roles: Role[] = ['user']): TestUser => {
    const id = randomUUID()
    const token = issuer.token({ sub: id, roles })
    return { id, token, auth: { authorization: `Bearer ${token}` } }
  }
  const card = async (owner: TestUser, body: Record<string, unknown> = {}): Promise<Record<string, any>> => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/cards',
      headers: owner.auth,
      payload: { title: 'A card', ...body }
    })
    if (res.statusCode !== 201) throw new Error(`card create failed: ${res.statusCode} ${res.body}`)
    return res.json()
  }
  return { app, deps, config, issuer, db, user, card }
}

export interface TestFiles {
  /** Where the file service listens. */
  url: string
  app: FastifyInstance
  /** Uploads a small PNG (new bytes each time) as `owner` and returns the file. */
  upload: (owner: TestUser, o?: { visibility?: 'public' | 'private' }) => Promise<Record<string, any>>
}

/**
 * The card app plus the real file service (its own database, s3rver and temp dir) listening on a free port,
 * both trusting the same token issuer, with the card service's FILE_SERVICE_URL pointing at it.
 */
export async function buildTestAppWithFiles (
  t: Teardown,
  env: Record<string, string> = {},
  options: AppOptions = {}
): Promise<TestApp & { files: TestFiles }> {
  const issuer = await testIssuer(t)
  const file = await buildFileTestApp(t, { AUTH_JWKS_URL: issuer.jwksUrl, AUTH_ISSUER: issuer.issuer })
  await file.app.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(file.app.server.address() as AddressInfo).port}`
  const h = await buildTestApp(t, { FILE_SERVICE_URL: url, ...env }, options, issuer)
  let seed = 0
  const upload: TestFiles['upload'] = async (owner, o = {}) => {
    const form = imageForm(await makeImage({ seed: ++seed }), { fields: { visibility: o.visibility ?? 'public' } })
    const res = await file.app.inject({
      method: 'POST', url: '/api/v1/files', headers: { ...owner.auth, ...form.headers }, payload: form.payload
    })
    if (res.statusCode !== 201) throw new Error(`upload failed: ${res.statusCode} ${res.body}`)
    return res.json()
  }
  return { ...h, files: { url, app: file.app, upload } }
}

export const json = (res: LightMyRequestResponse): any => res.json()
