// `npm start`: the whole stack in the foreground. Creates the database, roles
// and schemas, migrates, starts an S3 server and an SMTP catcher when none is
// configured, the three services and nginx; Ctrl-C stops all it started.
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { setupDatabase } from './db.js'
import { startDevOidc } from './dev-oidc.js'
import { standinOptionsFromEnv, startStripeStandin } from '@holo/stripe-standin'
import { adminBuildDir, startGateway, waitForHttp, type GatewaySettings, type RunningGateway } from './gateway.js'
import { spawnTs, startMail, startS3 } from './local-services.js'
import { repoRoot, services, urlForRole, type ServiceInfo } from './services.js'
import { localServiceEnv } from './stack-env.js'

const env = process.env
const stackDir = path.resolve(env.STACK_DIR ?? path.join(repoRoot, '.stack'))
const gatewayPort = Number(env.GATEWAY_PORT ?? 8080)
const adminUrl = env.DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/holo'

const log = (msg: string): void => { process.stdout.write(`[stack] ${msg}\n`) }
const stops: Array<() => Promise<void>> = []
let stopping = false

async function stopAll (code: number): Promise<never> {
  if (!stopping) {
    stopping = true
    log('stopping')
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => log(`stop failed: ${String(err)}`))
  }
  process.exit(code)
}
process.on('SIGINT', () => { void stopAll(0) })
process.on('SIGTERM', () => { void stopAll(0) })

function startService (s: ServiceInfo, extra: Record<string, string>): ChildProcess {
  const { child, stop } = spawnTs('src/server.ts', s.dir, {
    ...env,
    NODE_ENV: env.NODE_ENV ?? 'development',
    PORT: String(s.port),
    ...extra
  })
  child.on('exit', (code, signal) => {
    if (!stopping) { log(`${s.name} exited (${signal ?? code}); stopping the stack`); void stopAll(1) }
  })
  stops.push(stop)
  return child
}

try {
  log(`database: ${new URL(adminUrl).pathname.slice(1)} on ${new URL(adminUrl).host}`)
  for (const r of await setupDatabase(adminUrl)) {
    log(`  ${r.service}: ${r.applied.length} migration(s) applied, ${r.skipped.length} already there`)
  }

  let s3Endpoint = env.S3_ENDPOINT
  if (s3Endpoint === undefined) {
    const s3 = await startS3(path.join(stackDir, 's3'), Number(env.S3_PORT ?? 9000))
    stops.push(s3.stop)
    s3Endpoint = s3.endpoint
    log(`S3 server (s3rver): ${s3Endpoint}, data in ${path.relative(repoRoot, path.join(stackDir, 's3'))}`)
  }
  let smtpUrl = env.SMTP_URL
  if (smtpUrl === undefined) {
    const mail = await startMail(1025, 1080)
    stops.push(mail.stop)
    smtpUrl = `smtp://127.0.0.1:${mail.smtpPort}`
    log(`SMTP catcher (MailDev): ${smtpUrl}, inbox at ${mail.apiUrl}`)
  }

  // The local OpenID provider, enabled in the auth service as the sign-in provider `dev` (docs/auth.md).
  const devOidc = await startDevOidc({
    port: Number(env.DEV_OIDC_PORT ?? 9400),
    redirectUris: [`http://127.0.0.1:${gatewayPort}/api/v1/auth/oauth/dev/callback`]
  })
  stops.push(devOidc.close)
  log(`dev OpenID provider: ${devOidc.issuer}`)

  // The local Stripe stand-in (packages/stripe-standin) unless STRIPE_API_URL names a Stripe to use; its
  // webhooks go to billing through the gateway. The defaults are billing's development values.
  let stripeApiUrl = env.STRIPE_API_URL
  if (stripeApiUrl === undefined) {
    const stripe = await startStripeStandin(standinOptionsFromEnv(env, {
      webhookUrl: `http://127.0.0.1:${gatewayPort}/api/v1/billing/webhooks/stripe`,
      secretKey: env.STRIPE_SECRET_KEY ?? 'sk_test_holo_local_standin'
    }))
    stops.push(stripe.stop)
    stripeApiUrl = stripe.url
    log(`Stripe stand-in (local, test mode, nothing is charged): ${stripe.url}, webhooks to the gateway`)
  }

  const shared = await localServiceEnv({ stripeApiUrl, stackDir, s3Endpoint, smtpUrl, gatewayPort, env, devOidc })
  await Promise.all(services.map(async (s) => {
    const child = startService(s, {
      DATABASE_URL: urlForRole(adminUrl, s.role),
      ...shared.common,
      ...shared.perService[s.name]
    })
    await waitForHttp(`http://127.0.0.1:${s.port}/health/live`, child, 90_000)
  }))

  const gateway: RunningGateway = await startGateway({
    port: gatewayPort,
    upstreams: Object.fromEntries(services.map((s) => [s.name, `127.0.0.1:${s.port}`])) as GatewaySettings['upstreams'],
    runDir: path.join(stackDir, 'nginx')
  })
  stops.push(gateway.stop)
  gateway.process.on('exit', () => { if (!stopping) { log('nginx exited; stopping the stack'); void stopAll(1) } })

  log('ready:')
  log(`  gateway   ${gateway.url}   (health: ${gateway.url}/health)`)
  log(existsSync(path.join(adminBuildDir, 'index.html'))
    ? `  dashboard ${gateway.url}/admin/   (sign in as BOOTSTRAP_ADMIN_EMAIL, see the notes below)`
    : '  dashboard not built: pnpm --filter @holo/admin build')
  for (const s of services) log(`  ${s.name.padEnd(9)} http://127.0.0.1:${s.port}   (ready: /health/ready)`)
  for (const line of shared.notes) log(line)
  log('Ctrl-C stops everything')
} catch (err) {
  log(`failed to start: ${(err as Error).message}`)
  await stopAll(1)
}
