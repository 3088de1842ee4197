// Unsubscribe tokens: HMAC-SHA256 over the user id and the notification type, with the first key; any key
// verifies (rotation: prepend a new key, drop the old one once its mail is old).
import { createHmac, timingSafeEqual } from 'node:crypto'
import { UUID } from '@holo/shared'
import { NOTIFICATION_TYPES, type NotificationType } from '../notifications/notifications.types.js'

const mac = (key: string, payload: string): Buffer => createHmac('sha256', key).update(payload).digest()

export class UnsubscribeTokens {
  constructor (private readonly keys: readonly string[]) {
    if (keys.length === 0) throw new Error('UnsubscribeTokens needs a key')
  }

  sign (userId: string, type: NotificationType): string {
    const payload = `${userId}:${type}`
    return `${Buffer.from(payload).toString('base64url')}.${mac(this.keys[0] as string, payload).toString('base64url')}`
  }

  /** The user and type a token names, or null when it is not one of ours (tampered, truncated, another key). */
  verify (token: string): { userId: string, type: NotificationType } | null {
    const [encoded, signature, ...rest] = token.split('.')
    if (encoded === undefined || signature === undefined || rest.length > 0) return null
    const payload = Buffer.from(encoded, 'base64url').toString('utf8')
    const given = Buffer.from(signature, 'base64url')
    const ok = this.keys.some((key) => {
      const expected = mac(key, payload)
      return given.length === expected.length && timingSafeEqual(given, expected)
    })
    if (!ok) return null
    const i = payload.indexOf(':')
    const userId = payload.slice(0, i)
    const type = payload.slice(i + 1)
    if (!UUID.test(userId) || !(NOTIFICATION_TYPES as readonly string[]).includes(type)) return null
    return { userId, type: type as NotificationType }
  }
}
