// A local OpenID provider for development and tests: the real `oidc-provider` (certified OpenID Connect), with
// test users and its own login page. `npm start` runs it as the sign-in provider `dev`; the auth service's tests
// run it on a free port. Never for production (the auth service refuses the `dev` provider there).
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider, { type Configuration, type JWK } from 'oidc-provider'

export interface DevUser {
  email: string
  password: string
  name: string
  emailVerified: boolean
  /** Released as the `picture` claim (profile scope) when set, as Google does. */
  picture?: string
}

/** The test user `npm start` prints: a verified email. */
export const DEV_USER: DevUser = {
  email: 'dev@holo.test',
  password: 'dev-password',
  name: 'Dev User',
  emailVerified: true
}

export interface DevOidcOptions {
  /** 0 picks a free port. */
  port?: number
  host?: string
  /** Defaults to http://<host>:<port>. */
  issuer?: string
  clientId?: string
  clientSecret?: string
  /** Where the provider may send the browser back (the auth service's callback URLs). */
  redirectUris: string[]
  users?: DevUser[]
  /** The signing key (a private JWK with `kid`); a new P-256 key by default. */
  signingKey?: JWK
}

export interface DevOidc {
  issuer: string
  clientId: string
  clientSecret: string
  port: number
  users: DevUser[]
  /** The oidc-provider instance (its events, its models). */
  provider: Provider
  close: () => Promise<void>
}

/** A new ES256 signing key as a private JWK. */
export function devSigningKey (kid = `dev-${randomBytes(4).toString('hex')}`): JWK {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' })
  return { ...jwk, kid, alg: 'ES256', use: 'sig' } as JWK
}

/** Subjects are stable per email, so a user signs in as the same account every time. */
const subjectOf = (email: string): string => `dev-${Buffer.from(email.toLowerCase()).toString('base64url')}`

const html = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

function loginPage (uid: string, client: string, error?: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Holo dev provider: sign in</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem}button{margin-top:1rem;padding:.5rem 1.2rem}
.error{color:#b00}</style></head><body>
<h1>Holo dev provider</h1><p>Sign in to continue to <b>${html(client)}</b>. Development only.</p>
${error !== undefined ? `<p class="error" role="alert">${html(error)}</p>` : ''}
<form method="post" action="/interaction/${html(uid)}/login">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="sign-in">Sign in</button></form></body></html>`
}

async function formOf (req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > 16384) throw new Error('form too large')
    chunks.push(chunk as Buffer)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}

/** Starts the provider and its login page on one port; resolves once it listens. */
export async function startDevOidc (o: DevOidcOptions): Promise<DevOidc> {
  const host = o.host ?? '127.0.0.1'
  const users = o.users ?? [DEV_USER]
  const clientId = o.clientId ?? 'holo-dev'
  const clientSecret = o.clientSecret ?? randomBytes(24).toString('base64url')
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port ?? 0, host, () => { server.off('error', reject); resolve() })
  })
  const port = (server.address() as AddressInfo).port
  const issuer = o.issuer ?? `http://${host}:${port}`
  const byId = new Map(users.map((u) => [subjectOf(u.email), u]))

  const configuration: Configuration = {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: o.redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: 'ES256'
    }],
    jwks: { keys: [o.signingKey ?? devSigningKey()] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username', 'picture'] },
    // The ID token carries the email claims itself (as Google's does), not only the user info endpoint.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false }, revocation: { enabled: true }, userinfo: { enabled: true } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // First-party client: no consent screen; the grant covers what the client asked for.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId ??
        ctx.oidc.session?.grantIdFor(ctx.oidc.client?.clientId ?? '')
      if (grantId !== undefined) return await ctx.oidc.provider.Grant.find(grantId)
      const accountId = ctx.oidc.session?.accountId
      if (accountId === undefined || ctx.oidc.client === undefined) return undefined
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId })
      grant.addOIDCScope('openid email profile')
      await grant.save()
      return grant
    },
    findAccount: async (_ctx, sub) => {
      const user = byId.get(sub)
      if (user === undefined) return undefined
      return {
        accountId: sub,
        claims: async () => ({
          sub,
          email: user.email,
          email_verified: user.emailVerified,
          name: user.name,
          preferred_username: user.email.split('@')[0],
          ...(user.picture === undefined ? {} : { picture: user.picture })
        })
      }
    },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 }
  }
  const provider = new Provider(issuer, configuration)
  provider.proxy = false
  const callback = provider.callback()

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', issuer)
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(url.pathname)
    if (m === null) { callback(req, res); return }
    void (async () => {
      try {
        const details = await provider.interactionDetails(req, res)
        const client = String(details.params.client_id ?? '')
        if (m[2] === undefined && req.method === 'GET') {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
          res.end(loginPage(details.uid, client))
          return
        }
        if (m[2] === '/login' && req.method === 'POST') {
          const form = await formOf(req)
          const email = (form.get('email') ?? '').trim().toLowerCase()
          const user = users.find((u) => u.email.toLowerCase() === email)
          if (user === undefined || user.password !== form.get('password')) {
            res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
            res.end(loginPage(details.uid, client, 'Wrong email or password'))
            return
          }
          await provider.interactionFinished(req, res, { login: { accountId: subjectOf(user.email) } },
            { mergeWithLastSubmission: false })
          return
        }
        res.writeHead(405).end()
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' })
        res.end(`sign-in failed: ${(err as Error).message}`)
      }
    })()
  })

  return {
    issuer,
    clientId,
    clientSecret,
    port,
    users,
    provider,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
