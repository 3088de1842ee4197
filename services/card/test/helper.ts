import { randomBytes, randomUUID } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { testDatabase, testIssuer, testRedisUrl, type Teardown, type TestIssuer } from '@holo/infra/testing'
import type { Role } from '@holo/shared'
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
  user: (roles?: Role[]) => TestUser
  /** Creates a card as `owner` and returns its body. */
  card: (owner: TestUser, body?: Record<string, unknown>) => Promise<Record<string, any>>
}

/**
 * The real card app on its own fresh database, the shared Redis under a key
 * prefix of its own, and a test token issuer standing in for the auth service.
 */
export async function buildTestApp (t: Teardown, env: Record<string, string> = {}, options: AppOptions = {}): Promise<TestApp> {
  const [db, issuer] = await Promise.all([testDatabase(t), testIssuer(t)])
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: db.urlFor('card'),
    REDIS_URL: testRedisUrl(),
    AUTH_JWKS_URL: issuer.jwksUrl,
    AUTH_ISSUER: issuer.issuer,
    CACHE_PREFIX: `test:card:${randomBytes(6).toString('hex')}:`,
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
    const res = await app.inject({ method: 'POST', url: '/api/v1/cards', headers: owner.auth, payload: { title: 'A card', ...body } })
    if (res.statusCode !== 201) throw new Error(`card create failed: ${res.statusCode} ${res.body}`)
    return res.json()
  }
  return { app, deps, config, issuer, user, card }
}

export const json = (res: LightMyRequestResponse): any => res.json()
