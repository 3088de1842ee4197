import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Signatures for URLs that work without a token: HMAC-SHA256 over the file
 * id, the variant and the expiry. The first key signs; every key verifies, so
 * keys rotate by prepending a new one and dropping the old one later.
 */
export class UrlSigner {
  constructor (private readonly keys: string[]) {
    if (keys.length === 0) throw new Error('UrlSigner needs at least one key')
  }

  private mac (key: string, fileId: string, variant: string, expires: number): Buffer {
    return createHmac('sha256', key).update(`holo-file-url\n${fileId}\n${variant}\n${expires}`).digest()
  }

  sign (fileId: string, variant: string, expires: number): string {
    return this.mac(this.keys[0] as string, fileId, variant, expires).toString('base64url')
  }

  verify (fileId: string, variant: string, expires: number, signature: string, nowSeconds: number): boolean {
    if (!Number.isSafeInteger(expires) || expires < nowSeconds) return false
    const given = Buffer.from(signature, 'base64url')
    return this.keys.some((key) => {
      const expected = this.mac(key, fileId, variant, expires)
      return given.length === expected.length && timingSafeEqual(given, expected)
    })
  }
}
