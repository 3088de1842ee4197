// A missing or malformed variable stops the service with one clear line that
// names the variable (and never echoes a secret): the full matrix against each
// service's loadConfig in process, and a few through the real server process.
import t from 'tap'
import { loadConfig as authConfig } from '../../services/auth/src/config.js'
import { loadConfig as cardConfig } from '../../services/card/src/config.js'
import { loadConfig as fileConfig } from '../../services/file/src/config.js'
import { loadConfig as notificationConfig } from '../../services/notification/src/config.js'
import { loadConfig as analyticsConfig } from '../../services/analytics/src/config.js'
import { loadConfig as auditConfig } from '../../services/audit/src/config.js'
import { loadConfig as billingConfig } from '../../services/billing/src/config.js'
import { spawnService } from './process.js'
import { SERVICES, type ServiceName } from './helpers.js'

interface Case { service: ServiceName, env: Record<string, string>, names: string, secret?: string }

const loaders: Record<ServiceName, (env: Record<string, string | undefined>) => unknown> = {
  auth: authConfig,
  card: cardConfig,
  file: fileConfig,
  notification: notificationConfig,
  analytics: analyticsConfig,
  audit: auditConfig,
  billing: billingConfig
}

const matrix: Case[] = []
for (const service of SERVICES) {
  matrix.push(
    { service, env: { PORT: 'not-a-port' }, names: 'PORT' },
    { service, env: { PORT: '70000' }, names: 'PORT' },
    { service, env: { DATABASE_URL: 'mysql://holo@127.0.0.1/holo' }, names: 'DATABASE_URL' },
    { service, env: { DATABASE_POOL_SIZE: '0' }, names: 'DATABASE_POOL_SIZE' },
    { service, env: { REDIS_URL: 'http://127.0.0.1:6379' }, names: 'REDIS_URL' },
    { service, env: { LOG_LEVEL: 'loud' }, names: 'LOG_LEVEL' },
    { service, env: { NODE_ENV: 'staging' }, names: 'NODE_ENV' }
  )
}
matrix.push(
  { service: 'file', env: { S3_ENDPOINT: 'ftp://minio:9000' }, names: 'S3_ENDPOINT' },
  { service: 'file', env: { S3_BUCKET: 'Not_A_Bucket' }, names: 'S3_BUCKET' },
  { service: 'file', env: { AUTH_JWKS_URL: 'auth:3001' }, names: 'AUTH_JWKS_URL' },
  // Production refuses a development secret left in place: the variable to set is named.
  { service: 'file', env: { NODE_ENV: 'production' }, names: 'S3_SECRET_KEY' },
  { service: 'auth', env: { NODE_ENV: 'production', PUBLIC_URL: 'https://holo.example' }, names: 'AUTH_KEYS_DIR' },
  { service: 'auth', env: { SMTP_URL: 'mail:1025' }, names: 'SMTP_URL' },
  {
    service: 'file',
    env: { FILE_URL_SIGNING_KEYS: 'too-short-secret-value' },
    names: 'FILE_URL_SIGNING_KEYS',
    secret: 'too-short-secret-value'
  }
)

const message = (c: Case): string => `config: .*\\b${c.names}\\b`

t.test('each service\'s loadConfig names the bad variable', async (t) => {
  for (const c of matrix) {
    let caught: unknown
    try { loaders[c.service]({ ...c.env }) } catch (err) { caught = err }
    t.equal((caught as Error | undefined)?.name, 'ConfigError', `${c.service} ${JSON.stringify(c.env)}: a ConfigError`)
    const msg = (caught as Error | undefined)?.message ?? ''
    t.match(msg, new RegExp(`^${message(c)}`), `${c.service} ${JSON.stringify(c.env)}: names ${c.names}`)
    t.notOk(msg.includes('\n'), 'one line')
    if (c.secret !== undefined) t.notOk(msg.includes(c.secret), 'the secret is not echoed')
  }
  for (const s of SERVICES) {
    t.doesNotThrow(() => loaders[s]({}), `${s} starts with no variables at all (local defaults)`)
  }
})

// The real entry point: the process exits non-zero with that one line on stderr.
const spawned: Case[] = [
  { service: 'auth', env: { PORT: 'not-a-port' }, names: 'PORT' },
  { service: 'card', env: { DATABASE_URL: 'mysql://holo@127.0.0.1/holo' }, names: 'DATABASE_URL' },
  {
    service: 'file',
    env: { FILE_URL_SIGNING_KEYS: 'too-short-secret-value' },
    names: 'FILE_URL_SIGNING_KEYS',
    secret: 'too-short-secret-value'
  }
]
const runs = spawned.map((c) => {
  const p = spawnService(c.service, { LOG_LEVEL: 'silent', PORT: '0', ...c.env })
  return { c, p, done: p.exited }
})
for (const { c, p, done } of runs) {
  t.test(`${c.service} server.ts with ${JSON.stringify(c.env)} exits naming ${c.names}`, async (t) => {
    const { code } = await done
    t.ok(code !== null && code !== 0, `exits non-zero by itself (${code})`)
    const lines = p.stderr().split('\n').filter((l) => l.trim() !== '')
    t.equal(lines.length, 1, `one stderr line: ${JSON.stringify(p.stderr())}`)
    t.match(lines[0] ?? '', new RegExp(`^${message(c)}`), 'the line names the variable')
    t.equal(p.stdout(), '', 'nothing on stdout')
    if (c.secret !== undefined) t.notOk(p.stderr().includes(c.secret), 'the secret is not echoed')
  })
}
