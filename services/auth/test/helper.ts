import type { FastifyInstance } from 'fastify'
import { testDatabase, testRedisUrl, type Teardown } from '@holo/infra/testing'
import { buildApp, type AppOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { closeDeps, createDeps, type Deps } from '../src/deps.js'

export interface TestApp { app: FastifyInstance, deps: Deps, config: Config }

/** The real auth app on its own fresh database and the real Redis. */
export async function buildTestApp (t: Teardown, env: Record<string, string> = {}, options: AppOptions = {}): Promise<TestApp> {
  const db = await testDatabase(t)
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: db.urlFor('auth'), REDIS_URL: testRedisUrl(), ...env })
  const deps = await createDeps(config)
  const app = await buildApp(config, deps, options)
  t.teardown(async () => { await app.close(); await closeDeps(deps) })
  return { app, deps, config }
}
