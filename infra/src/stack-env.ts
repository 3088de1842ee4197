// The environment the local stack gives each service. Development defaults
// only: production sets these itself and refuses the unsafe ones.
import { generateKeyPairSync } from 'node:crypto'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { ServiceName } from './services.js'

export interface StackEnvInput {
  stackDir: string
  s3Endpoint: string
  smtpUrl: string
  gatewayPort: number
  env: NodeJS.ProcessEnv
  /** Where billing reaches Stripe: the local stand-in, or STRIPE_API_URL. */
  stripeApiUrl: string
  /** The local OpenID provider (dev-oidc.ts), enabled as the sign-in provider `dev`. */
  devOidc?: {
    issuer: string
    clientId: string
    clientSecret: string
    users: Array<{ email: string, password: string }>
  }
}

export interface StackEnv {
  common: Record<string, string>
  perService: Partial<Record<ServiceName, Record<string, string>>>
  /** Lines printed once the stack is up (dev credentials and the like). */
  notes: string[]
}

/** A dev Ed25519 signing key in `${stackDir}/keys`, made once and reused, so tokens survive restarts. */
async function devKeysDir (stackDir: string): Promise<string> {
  const dir = path.join(stackDir, 'keys')
  await mkdir(dir, { recursive: true, mode: 0o700 })
  if (!(await readdir(dir)).some((n) => n.endsWith('.pem'))) {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    await writeFile(path.join(dir, 'dev-1.pem'), pem, { mode: 0o600, flag: 'wx' })
  }
  return dir
}

export async function localServiceEnv (i: StackEnvInput): Promise<StackEnv> {
  const adminEmail = i.env.BOOTSTRAP_ADMIN_EMAIL ?? 'admin@holo.local'
  const adminPassword = i.env.BOOTSTRAP_ADMIN_PASSWORD ?? 'holo-dev-admin-password'
  const gateway = `http://127.0.0.1:${i.gatewayPort}`
  const dev = i.devOidc
  const providers = [...(i.env.OAUTH_PROVIDERS ?? '').split(','), ...(dev !== undefined ? ['dev'] : [])]
    .map((k) => k.trim()).filter((k, n, all) => k !== '' && all.indexOf(k) === n)
  const oauth: Record<string, string> = dev === undefined
    ? {}
    : {
        OAUTH_PROVIDERS: providers.join(','),
        OAUTH_DEV_ISSUER: dev.issuer,
        OAUTH_DEV_CLIENT_ID: dev.clientId,
        OAUTH_DEV_CLIENT_SECRET: dev.clientSecret
      }
  const devUser = dev?.users[0]
  return {
    common: {
      REDIS_URL: i.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      AUTH_JWKS_URL: 'http://127.0.0.1:3001/api/v1/auth/.well-known/jwks.json',
      PUBLIC_URL: `http://127.0.0.1:${i.gatewayPort}`
    },
    perService: {
      auth: {
        SMTP_URL: i.smtpUrl,
        AUTH_KEYS_DIR: await devKeysDir(i.stackDir),
        // The local gateway is plain http: cookie mode's refresh cookie goes without Secure and its __Secure- prefix.
        AUTH_COOKIE_SECURE: 'false',
        BOOTSTRAP_ADMIN_EMAIL: adminEmail,
        BOOTSTRAP_ADMIN_PASSWORD: adminPassword,
        ...oauth
      },
      card: {},
      file: { S3_ENDPOINT: i.s3Endpoint },
      notification: { SMTP_URL: i.smtpUrl },
      billing: { STRIPE_API_URL: i.stripeApiUrl }
    },
    notes: [
      `dev admin: ${adminEmail} / ${adminPassword} (POST /api/v1/auth/login)`,
      ...(devUser !== undefined
        ? [`dev sign-in provider "dev": ${devUser.email} / ${devUser.password} ` +
          `(open ${gateway}/api/v1/auth/oauth/dev/start?redirectTo=${encodeURIComponent(`${gateway}/`)})`]
        : [])
    ]
  }
}
