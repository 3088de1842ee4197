// A new social account's picture becomes its avatar: fetched by the auth service (SSRF rules), uploaded to the
// real file service as the user, set on the account. Against the real oidc-provider, the GitHub stand-in, a real
// file service (its database and s3rver) and a local picture server; nothing is mocked.
import { createHash } from 'node:crypto'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { freePort } from '@holo/infra/testing'
import { devSigningKey, startDevOidc, type DevUser } from '../../../infra/src/dev-oidc.js'
import { makeImage } from '../../file/test/helper.js'
import { loadConfig } from '../src/config.js'
import { generateSigningKeyPem } from '../src/keys.js'
import { PictureError, PictureFetcher } from '../src/modules/oauth/oauth.picture.js'
import { bearer, buildTestApp, buildTestAppWithFiles } from './helper.js'
import { CLIENT_ID, CLIENT_SECRET, githubStandIn } from './github-stand-in.js'
import { BrowserStandIn, callback, exchange, holoCode, PUBLIC_URL, socialSignIn, start, WEB_APP } from './oauth-helpers.js'

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const MAX_BYTES = 256 * 1024

interface PictureServer {
  url: string
  /** Requests per path. */
  hits: Map<string, number>
  connections: () => number
  /** Bytes written by /stream before the client went away. */
  streamed: () => number
}

/** Serves the pictures (and the bad answers) that providers point at. */
async function pictureServer (t: Test, images: Record<string, Buffer>): Promise<PictureServer> {
  const hits = new Map<string, number>()
  let connections = 0
  let streamed = 0
  const sockets = new Set<Socket>()
  const server = createServer((req, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    hits.set(path, (hits.get(path) ?? 0) + 1)
    const image = /^\/p\/([a-z-]+)\.png$/.exec(path)?.[1]
    if (image !== undefined && images[image] !== undefined) {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': images[image].length }).end(images[image])
      return
    }
    const hops = /^\/hop\/(\d+)$/.exec(path)?.[1]
    if (hops !== undefined) {
      const n = Number(hops)
      res.writeHead(302, { location: n <= 1 ? '/p/hop.png' : `/hop/${n - 1}` }).end()
      return
    }
    switch (path) {
      case '/declared-big':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(MAX_BYTES + 1) })
        res.write(Buffer.alloc(1024))
        return // never finished: the client must not wait for it
      case '/stream': {
        // No Content-Length: the cap has to be enforced while reading. 64 MiB if nobody stops it.
        res.writeHead(200, { 'content-type': 'image/png' })
        const chunk = Buffer.alloc(64 * 1024, 1)
        const more = (): void => {
          while (streamed < 64 * 1024 * 1024) {
            streamed += chunk.length
            if (!res.write(chunk)) { res.once('drain', more); return }
          }
          res.end()
        }
        res.on('close', () => { res.removeAllListeners('drain') })
        more()
        return
      }
      case '/page':
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>not a picture</html>')
        return
      case '/fake.png':
        res.writeHead(200, { 'content-type': 'image/png' }).end('<script>alert(1)</script>')
        return
      case '/slow':
        return // headers never come
      case '/to-private':
        res.writeHead(302, { location: 'https://10.0.0.1/avatar.png' }).end()
        return
      case '/to-metadata':
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end()
        return
      default:
        res.writeHead(404).end()
    }
  })
  server.on('connection', (s: Socket) => {
    connections++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  }))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    connections: () => connections,
    streamed: () => streamed
  }
}

/** The counter `auth_oauth_avatar_imports_total{result}` now. */
async function imports (app: FastifyInstance, result: string): Promise<number> {
  const text = (await app.inject({ url: '/metrics' })).body
  const m = new RegExp(`^auth_oauth_avatar_imports_total\\{(?=[^}]*result="${result}")[^}]*\\} (\\d+)$`, 'm').exec(text)
  return Number(m?.[1] ?? 0)
}

const devUser = (name: string, picture?: string): DevUser =>
  ({ email: `${name}@pictures.test`, password: `pw-${name}`, name: `Pic ${name}`, emailVerified: true, picture })

t.test('a new social account gets the provider\'s picture as its avatar', async (t) => {
  const picture = await makeImage({ width: 40, height: 30, seed: 7 })
  const ghPicture = await makeImage({ width: 32, height: 32, seed: 8 })
  const hopPicture = await makeImage({ width: 20, height: 20, seed: 9 })
  const pics = await pictureServer(t, { ok: picture, gh: ghPicture, hop: hopPicture })
  const pictures: Record<string, string> = {
    ok: `${pics.url}/p/ok.png`,
    hop: `${pics.url}/hop/3`,
    hops: `${pics.url}/hop/4`,
    stream: `${pics.url}/stream`,
    declared: `${pics.url}/declared-big`,
    page: `${pics.url}/page`,
    fake: `${pics.url}/fake.png`,
    slow: `${pics.url}/slow`,
    private: `${pics.url}/to-private`,
    metadata: `${pics.url}/to-metadata`,
    ftp: 'ftp://127.0.0.1/avatar.png'
  }
  const users = Object.fromEntries(Object.entries(pictures).map(([k, url]) => [k, devUser(k, url)]))
  const dev = await startDevOidc({
    port: await freePort(),
    redirectUris: [`${PUBLIC_URL}/api/v1/auth/oauth/dev/callback`],
    users: Object.values(users),
    signingKey: devSigningKey('pics'),
    clientSecret: 'pictures-client-secret'
  })
  t.teardown(async () => { await dev.close() })
  const gh = await githubStandIn(t)
  const h = await buildTestAppWithFiles(t, {
    OAUTH_PROVIDERS: 'dev,github',
    OAUTH_DEV_ISSUER: dev.issuer,
    OAUTH_DEV_CLIENT_ID: dev.clientId,
    OAUTH_DEV_CLIENT_SECRET: dev.clientSecret,
    OAUTH_GITHUB_CLIENT_ID: CLIENT_ID,
    OAUTH_GITHUB_CLIENT_SECRET: CLIENT_SECRET,
    OAUTH_GITHUB_AUTHORIZE_URL: `${gh.url}/login/oauth/authorize`,
    OAUTH_GITHUB_TOKEN_URL: `${gh.url}/login/oauth/access_token`,
    OAUTH_GITHUB_API_URL: gh.url,
    OAUTH_REDIRECT_ALLOWLIST: WEB_APP,
    OAUTH_AVATAR_ALLOW_LOOPBACK: 'true',
    OAUTH_AVATAR_MAX_BYTES: String(MAX_BYTES),
    OAUTH_AVATAR_TIMEOUT_MS: '1500'
  })
  const { app, deps } = h

  /** A sign-in with the dev provider, exchanged; then the import (in the background) is waited for. */
  const signIn = async (user: DevUser): Promise<{ id: string, accessToken: string }> => {
    const cb = await socialSignIn(app, 'dev', user)
    t.equal(cb.statusCode, 302, `callback: ${cb.body}`)
    const res = await exchange(app, holoCode(cb))
    t.equal(res.statusCode, 200, res.statusCode === 200 ? 'exchanged' : res.body)
    await app.accounts.drain()
    return { id: res.json().user.id, accessToken: res.json().accessToken }
  }
  const avatarOf = async (id: string): Promise<string | null> =>
    (await deps.prisma.user.findUniqueOrThrow({ where: { id } })).avatarFileId
  const fileOf = async (id: string): Promise<Record<string, any>> => {
    const res = await h.files.app.inject({ url: `/api/v1/files/${id}` })
    t.equal(res.statusCode, 200, res.body)
    return res.json()
  }

  let okUser = { id: '', accessToken: '' }
  t.test('OIDC: the picture claim becomes the avatar, a public file of the user with the picture\'s bytes', async (t) => {
    const before = await imports(app, 'imported')
    okUser = await signIn(users.ok as DevUser)
    const fileId = await avatarOf(okUser.id)
    t.ok(fileId, 'the avatar is set')
    const file = await fileOf(fileId ?? '')
    t.match(file, { ownerId: okUser.id, purpose: 'avatar', visibility: 'public', contentType: 'image/png', width: 40, height: 30 })
    t.equal(file.sha256, sha256(picture), 'the uploaded bytes are the picture\'s')
    const me = await app.inject({ url: '/api/v1/auth/me', headers: bearer(okUser.accessToken) })
    t.equal(me.json().avatarFileId, fileId, 'shown in /me')
    const content = await h.files.app.inject({ url: `/api/v1/files/${fileId ?? ''}/content` })
    t.equal(content.statusCode, 200)
    t.equal(pics.hits.get('/p/ok.png'), 1, 'fetched once')
    t.equal(await imports(app, 'imported'), before + 1)
    const events = await deps.prisma.outbox.findMany({ where: { subject: okUser.id, type: 'holo.user.profile_updated.v1' } })
    t.equal(events.length, 1, 'the profile change is announced')
    t.match(events[0]?.payload, { data: { changed: ['avatarFileId'], avatarFileId: fileId } })
  })

  t.test('later sign-ins import nothing and keep the avatar the user chose', async (t) => {
    const first = await avatarOf(okUser.id)
    await signIn(users.ok as DevUser)
    t.equal(pics.hits.get('/p/ok.png'), 1, 'no second fetch')
    t.equal(await avatarOf(okUser.id), first)
    const own = await h.files.upload(okUser.accessToken)
    const patch = await app.inject({
      method: 'PATCH', url: '/api/v1/auth/me', headers: bearer(okUser.accessToken), payload: { avatarFileId: own.id }
    })
    t.equal(patch.statusCode, 200, patch.body)
    await signIn(users.ok as DevUser)
    t.equal(await avatarOf(okUser.id), own.id, 'the user\'s own choice stays')
    t.equal(pics.hits.get('/p/ok.png'), 1, 'still no second fetch')
    const list = await h.files.app.inject({ url: '/api/v1/files?ownerId=me&purpose=avatar', headers: bearer(okUser.accessToken) })
    t.equal(list.json().items.length, 1, 'one imported avatar file, no second')
  })

  t.test('GitHub: avatar_url becomes the avatar', async (t) => {
    gh.as({
      id: 4242,
      login: 'pic-cat',
      name: 'Pic Cat',
      emails: [{ email: 'pic-cat@example.test', primary: true, verified: true }],
      avatarUrl: `${pics.url}/p/gh.png`
    })
    const s = await start(app, 'github')
    const { stoppedAt } = await new BrowserStandIn().go(s.location, `${PUBLIC_URL}/api/v1/auth/oauth/github/callback`)
    const cb = await callback(app, stoppedAt ?? '', s.cookie)
    t.equal(cb.statusCode, 302, cb.body)
    const res = await exchange(app, holoCode(cb))
    t.equal(res.statusCode, 200, res.statusCode === 200 ? 'exchanged' : res.body)
    await app.accounts.drain()
    const fileId = await avatarOf(res.json().user.id)
    t.ok(fileId)
    const file = await fileOf(fileId ?? '')
    t.equal(file.ownerId, res.json().user.id)
    t.equal(file.sha256, sha256(ghPicture))
  })

  t.test('up to three redirects are followed, each checked again', async (t) => {
    const user = await signIn(users.hop as DevUser)
    const fileId = await avatarOf(user.id)
    t.ok(fileId)
    t.equal((await fileOf(fileId ?? '')).sha256, sha256(hopPicture))
  })

  const skipped: Array<[string, string, string]> = [
    ['a fourth redirect', 'hops', 'refused'],
    ['a body past the cap (no Content-Length)', 'stream', 'too_large'],
    ['a declared Content-Length past the cap', 'declared', 'too_large'],
    ['an HTML page', 'page', 'not_image'],
    ['text served as image/png (the file service sniffs it)', 'fake', 'not_image'],
    ['a server that never answers', 'slow', 'timeout'],
    ['a redirect to a private address', 'private', 'refused'],
    ['a redirect to the cloud metadata address over http', 'metadata', 'refused'],
    ['another scheme', 'ftp', 'refused']
  ]
  for (const [name, key, result] of skipped) {
    t.test(`skipped, the sign-in unharmed: ${name}`, async (t) => {
      const before = await imports(app, result)
      const user = await signIn(users[key] as DevUser)
      t.equal(await avatarOf(user.id), null, 'no avatar')
      t.equal(await imports(app, result), before + 1, `counted as ${result}`)
      const me = await app.inject({ url: '/api/v1/auth/me', headers: bearer(user.accessToken) })
      t.equal(me.statusCode, 200, 'the account works')
      if (key === 'stream') t.ok(pics.streamed() < 8 * 1024 * 1024, `the download was cut off (${pics.streamed()} bytes sent)`)
    })
  }
})

t.test('production-like settings: loopback and private addresses are refused before connecting', async (t) => {
  const pics = await pictureServer(t, { ok: await makeImage({ seed: 3 }) })
  const port = new URL(pics.url).port
  const fetcher = new PictureFetcher({ maxBytes: MAX_BYTES, timeoutMs: 2000, allowLoopback: false })
  t.teardown(() => { fetcher.close() })
  const refused = [
    `${pics.url}/p/ok.png`, // http
    `https://127.0.0.1:${port}/p/ok.png`,
    `https://localhost:${port}/p/ok.png`, // resolved, then refused
    `https://[::1]:${port}/p/ok.png`,
    `https://[::ffff:127.0.0.1]:${port}/p/ok.png`,
    'https://10.0.0.1/a.png',
    'https://172.16.5.4/a.png',
    'https://192.168.1.1/a.png',
    'https://169.254.169.254/latest/meta-data/',
    'https://100.64.0.1/a.png',
    'https://0.0.0.0/a.png',
    'https://[fd00::1]/a.png',
    'https://[fe80::1]/a.png',
    'https://user:pass@example.test/a.png',
    'file:///etc/passwd',
    'not a url'
  ]
  for (const url of refused) {
    const err = await fetcher.fetch(url).then(() => null, (e: unknown) => e)
    t.ok(err instanceof PictureError, url)
    t.equal((err as PictureError).reason, 'refused', url)
  }
  t.equal(pics.connections(), 0, 'nothing ever connected to the loopback server')

  t.test('a sign-in with such a picture still succeeds, without an avatar', async (t) => {
    const user = devUser('prodlike', `https://127.0.0.1:${port}/p/ok.png`)
    const dev = await startDevOidc({
      port: await freePort(),
      redirectUris: [`${PUBLIC_URL}/api/v1/auth/oauth/dev/callback`],
      users: [user],
      clientSecret: 'prodlike-client-secret'
    })
    t.teardown(async () => { await dev.close() })
    // No OAUTH_AVATAR_ALLOW_LOOPBACK: the production rule; the file service must not even be asked.
    const { app, deps } = await buildTestApp(t, {
      OAUTH_PROVIDERS: 'dev',
      OAUTH_DEV_ISSUER: dev.issuer,
      OAUTH_DEV_CLIENT_ID: dev.clientId,
      OAUTH_DEV_CLIENT_SECRET: dev.clientSecret,
      OAUTH_REDIRECT_ALLOWLIST: WEB_APP
    })
    const cb = await socialSignIn(app, 'dev', user)
    t.equal(cb.statusCode, 302, cb.body)
    const res = await exchange(app, holoCode(cb))
    t.equal(res.statusCode, 200, res.statusCode === 200 ? 'exchanged' : res.body)
    await app.accounts.drain()
    const row = await deps.prisma.user.findUniqueOrThrow({ where: { id: res.json().user.id } })
    t.equal(row.avatarFileId, null)
    t.equal(await imports(app, 'refused'), 1)
    t.equal(pics.connections(), 0, 'no connection to the private address')
  })
})

t.test('OAUTH_AVATAR_IMPORT=false fetches nothing', async (t) => {
  const pics = await pictureServer(t, { ok: await makeImage({ seed: 4 }) })
  const user = devUser('off', `${pics.url}/p/ok.png`)
  const dev = await startDevOidc({
    port: await freePort(),
    redirectUris: [`${PUBLIC_URL}/api/v1/auth/oauth/dev/callback`],
    users: [user],
    clientSecret: 'off-client-secret'
  })
  t.teardown(async () => { await dev.close() })
  const { app, deps } = await buildTestApp(t, {
    OAUTH_PROVIDERS: 'dev',
    OAUTH_DEV_ISSUER: dev.issuer,
    OAUTH_DEV_CLIENT_ID: dev.clientId,
    OAUTH_DEV_CLIENT_SECRET: dev.clientSecret,
    OAUTH_REDIRECT_ALLOWLIST: WEB_APP,
    OAUTH_AVATAR_ALLOW_LOOPBACK: 'true',
    OAUTH_AVATAR_IMPORT: 'false'
  })
  const res = await exchange(app, holoCode(await socialSignIn(app, 'dev', user)))
  t.equal(res.statusCode, 200, res.statusCode === 200 ? 'exchanged' : res.body)
  await app.accounts.drain()
  t.equal((await deps.prisma.user.findUniqueOrThrow({ where: { id: res.json().user.id } })).avatarFileId, null)
  t.equal(pics.connections(), 0)
})

t.test('avatar import settings', async (t) => {
  const c = loadConfig({})
  t.equal(c.OAUTH_AVATAR_IMPORT, true, 'on by default')
  t.equal(c.OAUTH_AVATAR_MAX_BYTES, 5 * 1024 * 1024)
  t.equal(c.OAUTH_AVATAR_TIMEOUT_MS, 5000)
  t.equal(c.OAUTH_AVATAR_ALLOW_LOOPBACK, false, 'loopback refused by default')
  t.throws(() => loadConfig({ OAUTH_AVATAR_MAX_BYTES: String(11 * 1024 * 1024) }), /OAUTH_AVATAR_MAX_BYTES/)
  t.throws(() => loadConfig({ OAUTH_AVATAR_TIMEOUT_MS: '50' }), /OAUTH_AVATAR_TIMEOUT_MS/)
  t.throws(() => loadConfig({ OAUTH_AVATAR_IMPORT: 'maybe' }), /OAUTH_AVATAR_IMPORT/)
  const prod = {
    NODE_ENV: 'production',
    PUBLIC_URL: 'https://holo.cards',
    AUTH_SIGNING_KEYS: `k1:${Buffer.from(generateSigningKeyPem().replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64')}`
  }
  t.ok(loadConfig(prod), 'production loads with the defaults')
  t.throws(() => loadConfig({ ...prod, OAUTH_AVATAR_ALLOW_LOOPBACK: 'true' }), /refusing to start in production: OAUTH_AVATAR_ALLOW_LOOPBACK/)
})
