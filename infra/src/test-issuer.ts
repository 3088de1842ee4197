// A token issuer for tests of the card and file services: a real Ed25519 key,
// a real JWKS served over HTTP, and tokens minted with the same claims the
// auth service puts in them (see packages/shared/src/auth/tokens.ts).
import { createServer } from 'node:http'
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto'
import { ACCESS_TOKEN_AUDIENCE, DEFAULT_ISSUER, JWKS_PATH, type Role } from '@holo/shared'
import type { Teardown } from './testing.js'

export interface TestIssuer {
  jwksUrl: string
  issuer: string
  /** Mints an access token; `claims` overrides or adds claims, `header` the JOSE header. */
  token: (o?: {
    sub?: string
    sid?: string
    roles?: Role[]
    expiresIn?: number
    claims?: Record<string, unknown>
    header?: Record<string, unknown>
    key?: KeyObject
  }) => string
  privateKey: KeyObject
}

const b64url = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')

export async function testIssuer (t: Teardown, issuer = DEFAULT_ISSUER): Promise<TestIssuer> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const kid = `test-${randomUUID().slice(0, 8)}`
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' }
  const server = createServer((req, res) => {
    if (req.url === JWKS_PATH) {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ keys: [jwk] }))
    } else {
      res.statusCode = 404
      res.end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as { port: number }
  return {
    jwksUrl: `http://127.0.0.1:${port}${JWKS_PATH}`,
    issuer,
    privateKey,
    token: (o = {}) => {
      const now = Math.floor(Date.now() / 1000)
      const header = { alg: 'EdDSA', typ: 'JWT', kid, ...o.header }
      const payload = {
        sub: o.sub ?? randomUUID(),
        sid: o.sid ?? randomUUID(),
        roles: o.roles ?? ['user'],
        iss: issuer,
        aud: ACCESS_TOKEN_AUDIENCE,
        iat: now,
        exp: now + (o.expiresIn ?? 900),
        jti: randomUUID(),
        ...o.claims
      }
      const input = `${b64url(header)}.${b64url(payload)}`
      return `${input}.${sign(null, Buffer.from(input), o.key ?? privateKey).toString('base64url')}`
    }
  }
}
