import {
  createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject
} from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import {
  ACCESS_TOKEN_ALG, ACCESS_TOKEN_AUDIENCE, ConfigError, type AccessClaims, type Jwk, type KeyResolver, type Role
} from '@holo/shared'
import type { Config } from './config.js'

interface KeyEntry { kid: string, publicKey: KeyObject, publicPem: string, privateKey?: KeyObject }

/**
 * The service's Ed25519 keys: one active key signs; every configured key
 * (including public-only ones that are being retired) verifies and is listed
 * in the JWKS, so tokens signed before a rotation stay valid until they expire.
 */
export class SigningKeys implements KeyResolver {
  private readonly byKid = new Map<string, KeyEntry>()
  private readonly active: KeyEntry & { privateKey: KeyObject }

  constructor (
    entries: KeyEntry[],
    activeKid: string | undefined,
    private readonly o: { issuer: string, ttlSeconds: number }
  ) {
    for (const e of entries) {
      if (this.byKid.has(e.kid)) throw new ConfigError(`config: signing key id "${e.kid}" is configured twice`)
      if (e.publicKey.asymmetricKeyType !== 'ed25519') {
        throw new ConfigError(`config: signing key "${e.kid}" is not an Ed25519 key`)
      }
      this.byKid.set(e.kid, e)
    }
    const signers = entries.filter((e) => e.privateKey !== undefined).map((e) => e.kid).sort()
    const kid = activeKid ?? signers.at(-1)
    const active = kid === undefined ? undefined : this.byKid.get(kid)
    if (active?.privateKey === undefined) {
      throw new ConfigError(`config: AUTH_ACTIVE_KID "${kid ?? ''}" names no configured private key`)
    }
    this.active = active as KeyEntry & { privateKey: KeyObject }
  }

  get activeKid (): string { return this.active.kid }

  async get (kid: string): Promise<string | undefined> {
    return this.byKid.get(kid)?.publicPem
  }

  jwks (): { keys: Jwk[] } {
    return {
      keys: [...this.byKid.values()].map((e) => ({
        ...(e.publicKey.export({ format: 'jwk' }) as Jwk),
        kid: e.kid,
        alg: ACCESS_TOKEN_ALG,
        use: 'sig'
      }))
    }
  }

  /** A signed access token (compact JWS) for a session; `ttlSeconds` shortens it (never beyond the configured TTL). */
  sign (
    c: { sub: string, sid: string, roles: Role[] },
    now = Date.now(),
    ttlSeconds = this.o.ttlSeconds
  ): { token: string, expiresIn: number } {
    const ttl = Math.min(ttlSeconds, this.o.ttlSeconds)
    const iat = Math.floor(now / 1000)
    const claims: AccessClaims = {
      sub: c.sub,
      sid: c.sid,
      roles: c.roles,
      iss: this.o.issuer,
      aud: ACCESS_TOKEN_AUDIENCE,
      iat,
      exp: iat + ttl,
      jti: randomUUID()
    }
    const header = { alg: ACCESS_TOKEN_ALG, typ: 'JWT', kid: this.active.kid }
    const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`
    const signature = sign(null, Buffer.from(input), this.active.privateKey).toString('base64url')
    return { token: `${input}.${signature}`, expiresIn: ttl }
  }
}

const b64 = (s: string): string => Buffer.from(s).toString('base64url')

function entryFromPem (kid: string, pem: string): KeyEntry {
  if (pem.includes('PRIVATE KEY')) {
    const privateKey = createPrivateKey(pem)
    const publicKey = createPublicKey(privateKey)
    return { kid, privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }
  }
  const publicKey = createPublicKey(pem)
  return { kid, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }
}

const KID = /^[A-Za-z0-9._-]{1,64}$/

/** Parses `kid:base64(PKCS#8 DER private key)` entries, comma-separated. */
export function parseSigningKeys (value: string): KeyEntry[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '').map((item) => {
    const at = item.indexOf(':')
    const kid = item.slice(0, at)
    if (at < 1 || !KID.test(kid)) {
      throw new ConfigError('config: AUTH_SIGNING_KEYS entries must be "kid:base64-pkcs8-der"')
    }
    try {
      const der = Buffer.from(item.slice(at + 1), 'base64')
      const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
      const publicKey = createPublicKey(privateKey)
      return { kid, privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }
    } catch {
      throw new ConfigError(`config: AUTH_SIGNING_KEYS entry "${kid}" is not a PKCS#8 private key`)
    }
  })
}

/** Reads `<kid>.pem` files: a private key signs and verifies, a public key only verifies (retiring). */
export async function readKeysDir (dir: string): Promise<KeyEntry[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.pem')).sort()
  const entries: KeyEntry[] = []
  for (const name of names) {
    const kid = name.slice(0, -'.pem'.length)
    if (!KID.test(kid)) throw new ConfigError(`config: key file name "${name}" is not a valid key id`)
    try {
      entries.push(entryFromPem(kid, await readFile(path.join(dir, name), 'utf8')))
    } catch {
      throw new ConfigError(`config: ${name} in AUTH_KEYS_DIR is not a PEM key`)
    }
  }
  return entries
}

/** A new Ed25519 private key as PKCS#8 PEM. */
export function generateSigningKeyPem (): string {
  return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
}

/**
 * Loads the configured keys. Without any (development and tests only:
 * production refuses this in loadConfig) an ephemeral key is made, so tokens
 * do not survive a restart.
 */
export async function loadSigningKeys (config: Config): Promise<SigningKeys> {
  const entries: KeyEntry[] = []
  if (config.AUTH_KEYS_DIR !== undefined) entries.push(...await readKeysDir(config.AUTH_KEYS_DIR))
  if (config.AUTH_SIGNING_KEYS !== undefined) entries.push(...parseSigningKeys(config.AUTH_SIGNING_KEYS))
  if (entries.length === 0) {
    if (config.NODE_ENV === 'production') throw new ConfigError('config: no signing key configured')
    entries.push(entryFromPem(`ephemeral-${randomBytes(4).toString('hex')}`, generateSigningKeyPem()))
  }
  const o = { issuer: config.AUTH_ISSUER, ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS }
  return new SigningKeys(entries, config.AUTH_ACTIVE_KID, o)
}
