import {
  createHash,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  verify,
  type JsonWebKey,
  type KeyObject
} from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { Teardown } from '@holo/infra/testing'
import t from 'tap'
import {
  ACCESS_TOKEN_AUDIENCE,
  authPlugin,
  JwksKeyStore,
  problemPlugin,
  revokedSessionKey,
  type Jwk
} from '@holo/shared'
import { SigningKeys } from '../src/keys.js'
import { bearer, buildTestApp, newAccount, register, type AuthTokens } from './helper.js'

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')
const decode = (jwt: string): { header: Record<string, unknown>, payload: Record<string, unknown> } => {
  const [h, p] = jwt.split('.')
  return {
    header: JSON.parse(Buffer.from(h ?? '', 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p ?? '', 'base64url').toString())
  }
}

const refresh = async (app: FastifyInstance, refreshToken: string) =>
  await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken } })

/** A stand-in for the card service: the shared verifier fed by the auth service's JWKS over HTTP. */
async function cardLikeVerifier (t: Teardown, jwksUrl: string, redis: Redis): Promise<FastifyInstance> {
  const keys = new JwksKeyStore({ url: jwksUrl }).start()
  const app = Fastify()
  await app.register(problemPlugin)
  await app.register(authPlugin, { keys, issuer: 'holo-auth', redis })
  app.get('/whoami', { config: { auth: 'required' } }, async (request) => request.caller)
  t.teardown(async () => { keys.stop(); await app.close() })
  return app
}

t.test('access tokens', async (t) => {
  const { app, deps } = await buildTestApp(t)
  const { tokens } = await register(app)

  t.test('carry the contract claims and verify against the JWKS', async (t) => {
    const { header, payload } = decode(tokens.accessToken)
    t.equal(header.alg, 'EdDSA')
    t.equal(header.kid, deps.keys.activeKid)
    t.equal(payload.iss, 'holo-auth')
    t.equal(payload.aud, ACCESS_TOKEN_AUDIENCE)
    t.equal(payload.sub, tokens.user.id)
    t.same(payload.roles, ['user'])
    t.type(payload.sid, 'string')
    t.type(payload.jti, 'string')
    t.equal(Number(payload.exp) - Number(payload.iat), 900)
    const jwks = await app.inject({ url: '/api/v1/auth/.well-known/jwks.json' })
    t.equal(jwks.statusCode, 200)
    const jwk = (jwks.json().keys as Jwk[]).find((k) => k.kid === header.kid)
    t.ok(jwk, 'the signing key is listed')
    t.equal(jwk?.kty, 'OKP')
    t.equal(jwk?.crv, 'Ed25519')
    t.notOk('d' in (jwk ?? {}), 'no private part')
    const [h, p, s] = tokens.accessToken.split('.')
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
    t.ok(verify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s ?? '', 'base64url')))
  })

  t.test('forged, expired or misaddressed tokens are refused with 401', async (t) => {
    const { payload } = decode(tokens.accessToken)
    const kid = deps.keys.activeKid
    const publicPem = await deps.keys.get(kid) ?? ''
    const hs256 = (() => {
      const input = `${b64({ alg: 'HS256', typ: 'JWT', kid })}.${b64(payload)}`
      return `${input}.${createHmac('sha256', publicPem).update(input).digest('base64url')}`
    })()
    const other = generateKeyPairSync('ed25519').privateKey
    const foreignKey = { kid, privateKey: other, publicKey: createPublicKey(other), publicPem: '' }
    const foreign = new SigningKeys([foreignKey], kid, { issuer: 'holo-auth', ttlSeconds: 900 })
    const [h, , s] = tokens.accessToken.split('.')
    const now = Math.floor(Date.now() / 1000)
    const cases: Array<[string, string]> = [
      ['alg none', `${b64({ alg: 'none', typ: 'JWT', kid })}.${b64(payload)}.`],
      ['HS256 signed with the public key', hs256],
      ['signed by another key with our kid',
        foreign.sign({ sub: String(payload.sub), sid: String(payload.sid), roles: ['admin'] }).token],
      ['tampered payload', `${h}.${b64({ ...payload, roles: ['admin'] })}.${s}`],
      ['unknown kid', deps.keys.sign({ sub: String(payload.sub), sid: String(payload.sid), roles: ['user'] }).token
        .replace(h ?? '', b64({ alg: 'EdDSA', typ: 'JWT', kid: 'nope' }))],
      ['expired', deps.keys.sign(
        { sub: String(payload.sub), sid: String(payload.sid), roles: ['user'] },
        Date.now() - 3600_000
      ).token],
      ['wrong audience', withClaims(deps.keys, { ...payload, aud: 'someone-else' })],
      ['wrong issuer', withClaims(deps.keys, { ...payload, iss: 'evil' })],
      ['missing sid', withClaims(deps.keys, { ...payload, sid: undefined, exp: now + 60 })],
      ['garbage', 'not.a.jwt']
    ]
    for (const [name, token] of cases) {
      const res = await app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
      t.equal(res.statusCode, 401, `${name} → 401 (${res.json().code})`)
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    }
    const expired = await app.inject({ url: '/api/v1/auth/me', headers: bearer(cases[5]?.[1] ?? '') })
    t.equal(expired.json().code, 'TOKEN_EXPIRED')
    const none = await app.inject({ url: '/api/v1/auth/me' })
    t.equal(none.statusCode, 401, 'no token → 401')
    const ok = await app.inject({ url: '/api/v1/auth/me', headers: bearer(tokens.accessToken) })
    t.equal(ok.statusCode, 200, 'the genuine token still works')
  })

  t.test('routes that need no token ignore the Authorization header, even a malformed one', async (t) => {
    const malformed = { authorization: 'Basic not-a-bearer-token' }
    const registered = await register(app, newAccount(), malformed)
    t.equal(registered.res.statusCode, 201, 'register')
    const login = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: bearer('not.a.jwt'),
      payload: { email: registered.body.email, password: registered.body.password }
    })
    t.equal(login.statusCode, 200, 'login')
    const profile = await app.inject({ url: `/api/v1/auth/profiles/${registered.tokens.user.id}`, headers: malformed })
    t.equal(profile.statusCode, 200, 'public profile')
    const jwks = await app.inject({ url: '/api/v1/auth/.well-known/jwks.json', headers: malformed })
    t.equal(jwks.statusCode, 200, 'JWKS')
    t.equal((await app.inject({
      url: '/api/v1/auth/me',
      headers: malformed
    })).statusCode, 401, 'a route that needs one still refuses it')
  })
})

/** Re-signs arbitrary claims with the service's own active key (to test claim checks, not signatures). */
function withClaims (keys: SigningKeys, claims: Record<string, unknown>): string {
  const inner = keys as unknown as { active: { kid: string, privateKey: KeyObject } }
  const input = `${b64({ alg: 'EdDSA', typ: 'JWT', kid: inner.active.kid })}.${b64(claims)}`
  return `${input}.${signEd25519(input, inner.active.privateKey)}`
}

function signEd25519 (input: string, key: KeyObject): string {
  return cryptoSign(null, Buffer.from(input), key).toString('base64url')
}

t.test('refresh tokens rotate; reuse ends the session', async (t) => {
  const { app, deps } = await buildTestApp(t)

  t.test('every refresh rotates, and the new pair works', async (t) => {
    const { tokens } = await register(app)
    const r1 = await refresh(app, tokens.refreshToken)
    t.equal(r1.statusCode, 200, r1.body)
    const next = r1.json() as AuthTokens
    t.not(next.refreshToken, tokens.refreshToken)
    t.equal(decode(next.accessToken).payload.sid, decode(tokens.accessToken).payload.sid, 'same session')
    const r2 = await refresh(app, next.refreshToken)
    t.equal(r2.statusCode, 200)
    const live = await deps.prisma.refreshToken.count({
      where: { sessionId: String(decode(tokens.accessToken).payload.sid), rotatedAt: null }
    })
    t.equal(live, 1, 'one live refresh token per session')
    const chain = await deps.prisma.refreshToken.findMany({
      where: { sessionId: String(decode(tokens.accessToken).payload.sid) },
      orderBy: { createdAt: 'asc' }
    })
    t.equal(chain.length, 3)
    t.equal(chain[1]?.parentId, chain[0]?.id, 'each token records its parent')
    t.equal(chain[2]?.parentId, chain[1]?.id)
    t.ok(
      chain.every((r) => /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(r.id)),
      'UUIDv7 ids'
    )
  })

  t.test('a rotated token presented after the grace window revokes the whole family', async (t) => {
    const { tokens } = await register(app)
    const sid = String(decode(tokens.accessToken).payload.sid)
    const r1 = (await refresh(app, tokens.refreshToken)).json() as AuthTokens
    const r2 = (await refresh(app, r1.refreshToken)).json() as AuthTokens
    // Age the rotation past the grace window (10 s by default).
    await deps.prisma.refreshToken.updateMany({
      where: { sessionId: sid, rotatedAt: { not: null } },
      data: { rotatedAt: new Date(Date.now() - 60_000) }
    })
    const stolen = await refresh(app, tokens.refreshToken)
    t.equal(stolen.statusCode, 401)
    t.equal(stolen.json().code, 'REFRESH_TOKEN_REUSED')
    const newest = await refresh(app, r2.refreshToken)
    t.equal(newest.statusCode, 401, 'the newest token of the family is dead too')
    t.equal(newest.json().code, 'REFRESH_TOKEN_INVALID')
    t.equal(await deps.redis.exists(revokedSessionKey(sid)), 1, 'the session is announced revoked')
    const ttl = await deps.redis.ttl(revokedSessionKey(sid))
    t.ok(ttl >= 900, `revocation outlives access tokens (ttl ${ttl})`)
    const me = await app.inject({ url: '/api/v1/auth/me', headers: bearer(r2.accessToken) })
    t.equal(me.statusCode, 401, 'access tokens of the family are refused')
    t.equal(me.json().code, 'SESSION_REVOKED')
    const audit = await deps.prisma.auditEvent.findFirst({
      where: { event: 'refresh.reuse_detected', targetId: tokens.user.id }
    })
    t.ok(audit, 'reuse is audited')
    const session = await deps.prisma.session.findUniqueOrThrow({ where: { id: sid } })
    t.equal(session.revokedReason, 'refresh_token_reuse')
  })

  t.test('within the grace window the just-rotated token answers again and continues the chain', async (t) => {
    const { tokens } = await register(app)
    const sid = String(decode(tokens.accessToken).payload.sid)
    const first = (await refresh(app, tokens.refreshToken)).json() as AuthTokens
    const again = await refresh(app, tokens.refreshToken)
    t.equal(again.statusCode, 200, 'lost response recovered')
    const recovered = again.json() as AuthTokens
    t.equal(decode(recovered.accessToken).payload.sid, sid, 'same session')
    t.equal(
      await deps.prisma.refreshToken.count({ where: { sessionId: sid, rotatedAt: null } }),
      1,
      'still one live token'
    )
    const next = await refresh(app, recovered.refreshToken)
    t.equal(next.statusCode, 200, 'the chain goes on from the recovered token')
    t.not(first.refreshToken, recovered.refreshToken)
  })

  t.test('parallel refreshes of one token leave one live refresh token', async (t) => {
    const { tokens } = await register(app)
    const sid = String(decode(tokens.accessToken).payload.sid)
    const results = await Promise.all(Array.from({ length: 6 }, async () => await refresh(app, tokens.refreshToken)))
    t.same(results.map((r) => r.statusCode), [200, 200, 200, 200, 200, 200])
    t.equal(await deps.prisma.refreshToken.count({ where: { sessionId: sid, rotatedAt: null } }), 1)
    t.equal(await deps.prisma.refreshToken.count({ where: { sessionId: sid } }), 7)
    const liveHashes = await deps.prisma.refreshToken.findMany({ where: { sessionId: sid, rotatedAt: null } })
    const last = results.map((r) => (r.json() as AuthTokens).refreshToken)
    const holdsLive = (raw: string): boolean =>
      createHash('sha256').update(raw).digest('hex') === liveHashes[0]?.tokenHash
    t.equal(last.filter(holdsLive).length, 1, 'exactly one response holds the live token')
  })

  t.test('unknown, malformed and expired refresh tokens are 401 or 400', async (t) => {
    const unknown = await refresh(app, 'x'.repeat(43))
    t.equal(unknown.statusCode, 401)
    const malformed = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refreshToken: 'short' }
    })
    t.equal(malformed.statusCode, 400)
    t.equal(malformed.json().errors[0].field, 'refreshToken')
    const { tokens } = await register(app)
    await deps.prisma.refreshToken.updateMany({
      where: { sessionId: String(decode(tokens.accessToken).payload.sid) },
      data: { expiresAt: new Date(Date.now() - 1000) }
    })
    t.equal((await refresh(app, tokens.refreshToken)).statusCode, 401)
  })

  t.test('refresh slides the session expiry and picks up role changes', async (t) => {
    const { tokens } = await register(app)
    const sid = String(decode(tokens.accessToken).payload.sid)
    await deps.prisma.session.update({ where: { id: sid }, data: { expiresAt: new Date(Date.now() + 60_000) } })
    await deps.prisma.user.update({ where: { id: tokens.user.id }, data: { roles: ['user', 'creator'] } })
    const r = (await refresh(app, tokens.refreshToken)).json() as AuthTokens
    t.same(decode(r.accessToken).payload.roles, ['user', 'creator'])
    const session = await deps.prisma.session.findUniqueOrThrow({ where: { id: sid } })
    t.ok(session.expiresAt.getTime() > Date.now() + 29 * 24 * 3600_000, '30-day sliding expiry')
  })
})

t.test('with no grace window an immediate reuse is theft', async (t) => {
  const { app } = await buildTestApp(t, { REFRESH_REUSE_GRACE_SECONDS: '0' })
  const { tokens } = await register(app)
  t.equal((await refresh(app, tokens.refreshToken)).statusCode, 200)
  await new Promise((resolve) => setTimeout(resolve, 5))
  const reuse = await refresh(app, tokens.refreshToken)
  t.equal(reuse.statusCode, 401)
  t.equal(reuse.json().code, 'REFRESH_TOKEN_REUSED')
})

t.test('logout, logout-all and sessions', async (t) => {
  const { app, deps } = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address() as { port: number }
  const card = await cardLikeVerifier(
    t,
    `http://127.0.0.1:${address.port}/api/v1/auth/.well-known/jwks.json`,
    deps.redis
  )
  const { body } = await register(app)
  const login = async (): Promise<AuthTokens> => (await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email: body.email, password: body.password }
  })).json() as AuthTokens

  t.test('logout ends that session only', async (t) => {
    const a = await login()
    const b = await login()
    const out = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      payload: { refreshToken: a.refreshToken }
    })
    t.equal(out.statusCode, 204)
    t.equal((await refresh(app, a.refreshToken)).statusCode, 401)
    t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(a.accessToken) })).statusCode, 401)
    t.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(b.accessToken) })).statusCode, 200)
    const again = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      payload: { refreshToken: a.refreshToken }
    })
    t.equal(again.statusCode, 204, 'idempotent')
  })

  t.test('logout-all is refused by another service within one second', async (t) => {
    const a = await login()
    const b = await login()
    const seen = await card.inject({ url: '/whoami', headers: bearer(b.accessToken) })
    t.equal(seen.statusCode, 200, seen.body)
    t.equal(seen.json().id, a.user.id)
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout-all' })).statusCode, 401, 'needs a token')
    const res = await app.inject({ method: 'POST', url: '/api/v1/auth/logout-all', headers: bearer(a.accessToken) })
    t.equal(res.statusCode, 204)
    t.equal(
      await deps.redis.exists(revokedSessionKey(String(decode(b.accessToken).payload.sid))),
      1,
      'revocation is in Redis when logout-all answers'
    )
    // The verifier may reuse a "not revoked" answer for up to 500 ms: poll at most ten times, 100 ms apart.
    let refused = false
    for (let i = 0; i < 10 && !refused; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      refused = (await card.inject({ url: '/whoami', headers: bearer(b.accessToken) })).statusCode === 401
    }
    t.ok(refused, 'the other service refuses the token of an ended session within a second')
    t.equal((await refresh(app, b.refreshToken)).statusCode, 401)
  })

  t.test('sessions lists live sessions and DELETE ends one', async (t) => {
    const a = await login()
    const b = await login()
    const list = await app.inject({ url: '/api/v1/auth/sessions', headers: bearer(a.accessToken) })
    t.equal(list.statusCode, 200)
    const items = list.json().items as Array<{ id: string, current: boolean }>
    t.equal(items.length, 2, 'ended sessions are not listed')
    const bSid = String(decode(b.accessToken).payload.sid)
    t.ok(items.some((s) => s.id === bSid && !s.current))
    const del = await app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/sessions/${bSid}`,
      headers: bearer(a.accessToken)
    })
    t.equal(del.statusCode, 204)
    t.equal((await refresh(app, b.refreshToken)).statusCode, 401)
    const gone = await app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/sessions/${bSid}`,
      headers: bearer(a.accessToken)
    })
    t.equal(gone.statusCode, 404)
    const other = await register(app)
    const foreign = await app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/sessions/${String(decode(other.tokens.accessToken).payload.sid)}`,
      headers: bearer(a.accessToken)
    })
    t.equal(foreign.statusCode, 404, 'another user\'s session is not yours to end')
    const bad = await app.inject({
      method: 'DELETE',
      url: '/api/v1/auth/sessions/not-a-uuid',
      headers: bearer(a.accessToken)
    })
    t.equal(bad.statusCode, 400)
    t.equal(bad.json().errors[0].field, 'id')
  })
})
