import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import tap from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import {
  freePort, testDatabase, testMail, testRedisUrl, testStreamPrefix, type Teardown, type TestMail
} from '@holo/infra/testing'
import { JWKS_PATH } from '@holo/shared'
// The real file service, for the avatarFileId check (tsconfig.json has rootDir '..' for this).
import { buildTestApp as buildFileTestApp, makeImage, upload as uploadFile } from '../../file/test/helper.js'
import { buildApp, type AppOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { closeDeps, createDeps, type Deps } from '../src/deps.js'

export interface TestApp { app: FastifyInstance, deps: Deps, config: Config, mail?: TestMail }

/** Cheap argon2 parameters for tests only (production refuses anything below OWASP's). */
export const FAST_ARGON2 = { ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1' }

/**
 * The real auth app on its own fresh database and the real Redis, with its
 * own rate-limit counters. `withMail` starts a real MailDev for it.
 * FILE_SERVICE_URL points at a closed port: a test that needs the file service
 * uses buildTestAppWithFiles.
 */
export async function buildTestApp (
  t: Teardown,
  env: Record<string, string> = {},
  options: AppOptions & { withMail?: boolean, databaseUrl?: string } = {}
): Promise<TestApp> {
  const databaseUrl = options.databaseUrl ?? await fileDatabaseUrl()
  const mail = options.withMail === true ? await testMail(t) : undefined
  const closedPort = await freePort()
  const rateLimitNamespace = `test:auth-rl:${randomBytes(6).toString('hex')}:`
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    REDIS_URL: testRedisUrl(),
    RATE_LIMIT_NAMESPACE: rateLimitNamespace,
    // The role registry too, so a test that changes roles changes them for its own apps only (and is dropped).
    ROLES_REGISTRY_KEY: `${env.RATE_LIMIT_NAMESPACE ?? rateLimitNamespace}roles`,
    // Nothing listens there unless the test asked for mail: sends fail in the background and are logged.
    SMTP_URL: mail !== undefined ? `smtp://127.0.0.1:${mail.smtpPort}` : 'smtp://127.0.0.1:9',
    PUBLIC_URL: 'http://holo.test',
    // A stray call to the file service fails loudly (503) instead of reaching one.
    FILE_SERVICE_URL: `http://127.0.0.1:${closedPort}`,
    EVENTS_STREAM_PREFIX: testStreamPrefix(t),
    ...FAST_ARGON2,
    ...env
  })
  const deps = await createDeps(config)
  const app = await buildApp(config, deps, options)
  t.teardown(async () => {
    // Known devices live for weeks: a namespace this helper made is removed with its app.
    if (env.RATE_LIMIT_NAMESPACE === undefined) await dropKeys(deps, config.RATE_LIMIT_NAMESPACE).catch(() => {})
    await app.close()
    await closeDeps(deps)
  })
  return { app, deps, config, mail }
}

export interface TestFiles {
  /** Where the file service listens. */
  url: string
  app: FastifyInstance
  /** Uploads a small PNG (new bytes each time) with `accessToken` and returns the file. */
  upload: (accessToken: string, o?: { visibility?: 'public' | 'private' }) => Promise<Record<string, any>>
}

/**
 * The auth app listening on a free port plus the real file service (its own database, s3rver and temp dir)
 * on another, verifying this app's tokens over its JWKS; the auth app's FILE_SERVICE_URL points at it.
 */
export async function buildTestAppWithFiles (
  t: Teardown,
  env: Record<string, string> = {},
  options: Parameters<typeof buildTestApp>[2] = {}
): Promise<TestApp & { files: TestFiles }> {
  // Each needs the other's address, so the file service's port is chosen first.
  const filePort = await freePort()
  const url = `http://127.0.0.1:${filePort}`
  const h = await buildTestApp(t, { FILE_SERVICE_URL: url, ...env }, options)
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  const authUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
  const file = await buildFileTestApp(t, {
    AUTH_JWKS_URL: `${authUrl}${JWKS_PATH}`,
    AUTH_ISSUER: h.config.AUTH_ISSUER,
    ROLES_REGISTRY_KEY: h.config.ROLES_REGISTRY_KEY
  })
  await file.app.listen({ host: '127.0.0.1', port: filePort })
  let seed = 0
  const upload: TestFiles['upload'] = async (accessToken, o = {}) => {
    const who = { id: '', token: accessToken, headers: { authorization: `Bearer ${accessToken}` } }
    const fields = { visibility: o.visibility ?? 'public' }
    const res = await uploadFile(file, who, await makeImage({ seed: ++seed }), { fields })
    if (res.statusCode !== 201) throw new Error(`upload failed: ${res.statusCode} ${res.body}`)
    return res.json()
  }
  return { ...h, files: { url, app: file.app, upload } }
}

async function dropKeys (deps: Deps, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await deps.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    if (keys.length > 0) await deps.redis.del(...keys)
    cursor = next
  } while (cursor !== '0')
}

let fileDatabase: Promise<string> | undefined
/** One fresh database per test file (tests in a file use distinct accounts), dropped when the file ends. */
async function fileDatabaseUrl (): Promise<string> {
  fileDatabase ??= testDatabase(tap).then((db) => db.urlFor('auth'))
  return await fileDatabase
}

let counter = 0
/** A unique, valid registration body. */
export function newAccount (prefix = 'u'): { email: string, username: string, password: string } {
  const id = `${prefix}${process.pid}${(counter++).toString(36)}${randomBytes(2).toString('hex')}`
    .toLowerCase()
    .slice(0, 32)
  return { email: `${id}@example.test`, username: id, password: `Correct horse ${id} battery` }
}

export async function register (
  app: FastifyInstance,
  body = newAccount(),
  headers: Record<string, string> = {}
): Promise<{ res: LightMyRequestResponse, body: typeof body, tokens: AuthTokens }> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: body, headers })
  return { res, body, tokens: res.json() as AuthTokens }
}

export interface AuthTokens {
  accessToken: string
  refreshToken: string
  expiresIn: number
  user: { id: string, email: string, username: string, roles: string[], emailVerified: boolean }
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

/** Waits for a message to `address` matching `subject` and reads its Token line. */
export async function waitForMail (
  mail: TestMail,
  address: string,
  subject: RegExp
): Promise<{ subject: string, text: string, token: string }> {
  const found = await mail.waitFor(address, subject)
  const token = /^Token: (\S+)$/m.exec(found.text)?.[1]
  if (token === undefined) throw new Error(`no Token line in mail "${found.subject}"`)
  return { ...found, token }
}
