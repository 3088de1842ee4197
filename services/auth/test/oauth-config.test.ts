// Sign-in providers from the environment: presets, required variables, and what production refuses.
import { createPrivateKey, generateKeyPairSync, verify } from 'node:crypto'
import t from 'tap'
import { loadConfig } from '../src/config.js'
import { generateSigningKeyPem } from '../src/keys.js'
import { usernameBase } from '../src/modules/oauth/oauth.service.js'
import { AppleSecret } from '../src/modules/oauth/oauth.providers.js'

const derOf = (pem: string): string => createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' }).toString('base64')

t.test('providers from the environment', async (t) => {
  t.same(loadConfig({}).oauthProviders, [], 'none by default')
  t.same(loadConfig({}).oauthRedirects, [{ origin: 'http://127.0.0.1:8080' }], 'PUBLIC_URL\'s origin by default')
  const applePem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const c = loadConfig({
    OAUTH_PROVIDERS: 'google, github,apple,corp',
    OAUTH_GOOGLE_CLIENT_ID: 'g-id',
    OAUTH_GOOGLE_CLIENT_SECRET: 'g-secret',
    OAUTH_GITHUB_CLIENT_ID: 'gh-id',
    OAUTH_GITHUB_CLIENT_SECRET: 'gh-secret',
    OAUTH_APPLE_CLIENT_ID: 'cards.holo.web',
    OAUTH_APPLE_APPLE_TEAM_ID: 'TEAM123456',
    OAUTH_APPLE_APPLE_KEY_ID: 'KEY1234567',
    OAUTH_APPLE_APPLE_PRIVATE_KEY: applePem.replace(/\n/g, '\\n'),
    OAUTH_CORP_ISSUER: 'https://login.corp.test/realms/holo',
    OAUTH_CORP_CLIENT_ID: 'c-id',
    OAUTH_CORP_CLIENT_SECRET: 'c-secret',
    OAUTH_CORP_NAME: 'Corp SSO',
    OAUTH_CORP_SCOPES: 'openid email',
    OAUTH_CORP_ENABLED: 'false'
  })
  t.match(c.oauthProviders, [
    { key: 'google', kind: 'oidc', issuer: 'https://accounts.google.com', scopes: ['openid', 'email', 'profile'], enabled: true },
    { key: 'github', kind: 'github', github: { tokenUrl: 'https://github.com/login/oauth/access_token', apiUrl: 'https://api.github.com' } },
    { key: 'apple', kind: 'oidc', issuer: 'https://appleid.apple.com', responseMode: 'form_post', apple: { teamId: 'TEAM123456' } },
    { key: 'corp', name: 'Corp SSO', scopes: ['openid', 'email'], enabled: false }
  ])
  t.match(c.oauthProviders[2]?.apple?.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/, '\\n escapes become new lines')

  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ OAUTH_PROVIDERS: 'corp', OAUTH_CORP_CLIENT_ID: 'x', OAUTH_CORP_CLIENT_SECRET: 'y' }, /OAUTH_CORP_ISSUER is missing/],
    [{ OAUTH_PROVIDERS: 'google', OAUTH_GOOGLE_CLIENT_SECRET: 'y' }, /OAUTH_GOOGLE_CLIENT_ID is missing/],
    [{ OAUTH_PROVIDERS: 'google', OAUTH_GOOGLE_CLIENT_ID: 'x' }, /OAUTH_GOOGLE_CLIENT_SECRET is missing/],
    [{ OAUTH_PROVIDERS: 'google,google', OAUTH_GOOGLE_CLIENT_ID: 'x', OAUTH_GOOGLE_CLIENT_SECRET: 'y' }, /twice/],
    [{ OAUTH_PROVIDERS: 'google', OAUTH_GOOGLE_CLIENT_ID: 'x', OAUTH_GOOGLE_CLIENT_SECRET: 'y', OAUTH_GOOGLE_SCOPES: 'email' }, /must include openid/],
    [{ OAUTH_PROVIDERS: 'google', OAUTH_GOOGLE_CLIENT_ID: 'x', OAUTH_GOOGLE_CLIENT_SECRET: 'y', OAUTH_GOOGLE_ENABLED: 'maybe' }, /ENABLED/],
    [{ OAUTH_PROVIDERS: 'apple', OAUTH_APPLE_CLIENT_ID: 'x', OAUTH_APPLE_APPLE_TEAM_ID: 'T' }, /must be set together/],
    [{
      OAUTH_PROVIDERS: 'apple',
      OAUTH_APPLE_CLIENT_ID: 'x',
      OAUTH_APPLE_APPLE_TEAM_ID: 'T',
      OAUTH_APPLE_APPLE_KEY_ID: 'K',
      OAUTH_APPLE_APPLE_PRIVATE_KEY: 'not a key'
    }, /OAUTH_APPLE_APPLE_PRIVATE_KEY is not an EC private key/],
    [{ OAUTH_REDIRECT_ALLOWLIST: 'https:' }, /whole scheme/],
    [{ OAUTH_REDIRECT_ALLOWLIST: 'https://app.test/path' }, /must be an origin/]
  ]
  for (const [env, message] of bad) t.throws(() => loadConfig(env), message, JSON.stringify(env))
})

t.test('production refuses unsafe sign-in settings', async (t) => {
  const prod = { NODE_ENV: 'production', PUBLIC_URL: 'https://holo.cards', AUTH_SIGNING_KEYS: `k1:${derOf(generateSigningKeyPem())}` }
  const dev = { OAUTH_PROVIDERS: 'dev', OAUTH_DEV_ISSUER: 'https://dev.test', OAUTH_DEV_CLIENT_ID: 'x', OAUTH_DEV_CLIENT_SECRET: 'y' }
  t.ok(loadConfig({ ...dev }), 'the dev provider is fine in development')
  t.throws(() => loadConfig({ ...prod, ...dev }), /development sign-in provider/)
  const http = { OAUTH_PROVIDERS: 'corp', OAUTH_CORP_ISSUER: 'http://login.corp.test', OAUTH_CORP_CLIENT_ID: 'x', OAUTH_CORP_CLIENT_SECRET: 'y' }
  t.throws(() => loadConfig({ ...prod, ...http }), /OAUTH_CORP_ISSUER must be https/)
  const gh = {
    OAUTH_PROVIDERS: 'github', OAUTH_GITHUB_CLIENT_ID: 'x', OAUTH_GITHUB_CLIENT_SECRET: 'y', OAUTH_GITHUB_API_URL: 'http://gh.test'
  }
  t.throws(() => loadConfig({ ...prod, ...gh }), /OAUTH_GITHUB_API_URL must be https/)
  t.throws(() => loadConfig({ ...prod, OAUTH_REDIRECT_ALLOWLIST: 'http://app.holo.cards' }), /http origin/)
  t.ok(loadConfig({ ...prod, OAUTH_REDIRECT_ALLOWLIST: 'https://app.holo.cards,http://127.0.0.1:7777,cards.holo.app:' }),
    'https origins, loopback (RFC 8252) and app schemes are fine')
})

t.test('Apple\'s client secret: an ES256 JWT signed with the team\'s key', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const c = loadConfig({
    OAUTH_PROVIDERS: 'apple',
    OAUTH_APPLE_CLIENT_ID: 'cards.holo.web',
    OAUTH_APPLE_APPLE_TEAM_ID: 'TEAM123456',
    OAUTH_APPLE_APPLE_KEY_ID: 'KEY1234567',
    OAUTH_APPLE_APPLE_PRIVATE_KEY: pem
  })
  const settings = c.oauthProviders[0]
  if (settings?.apple === undefined) throw new Error('no apple settings')
  const jwt = new AppleSecret({ ...settings, apple: settings.apple }).value()
  const [h = '', p = '', sig = ''] = jwt.split('.')
  const json = (s: string): Record<string, unknown> => JSON.parse(Buffer.from(s, 'base64url').toString())
  t.same(json(h), { alg: 'ES256', kid: 'KEY1234567' })
  const claims = json(p)
  t.match(claims, { iss: 'TEAM123456', sub: 'cards.holo.web', aud: 'https://appleid.apple.com' })
  t.equal(Number(claims.exp) - Number(claims.iat), 3600)
  const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key: publicKey, dsaEncoding: 'ieee-p1363' },
    Buffer.from(sig, 'base64url'))
  t.ok(ok, 'the signature verifies with the team key\'s public half')
})

t.test('usernames derived from the provider', async (t) => {
  t.equal(usernameBase({ username: 'Octo-Cat', name: null }, 'x@y.z'), 'octo_cat')
  t.equal(usernameBase({ username: null, name: 'Ada' }, 'ada.lovelace@y.z'), 'ada_lovelace')
  t.equal(usernameBase({ username: 'é', name: null }, 'x@y.z'), 'e_user')
  t.equal(usernameBase({ username: 'a'.repeat(50), name: null }, 'x@y.z').length, 32)
  t.match(usernameBase({ username: '!!', name: null }, 'x@y.z'), /^[a-z0-9_]{3,32}$/)
})
