// Preferences: per type, in-app and email, over defaults (email on for security types, card.hidden and
// card.warned; in-app on for all). Security mail cannot be turned off.
import { errors } from '../../errors.js'
import {
  NOTIFICATION_TYPES, defaultChannels, isSecurityType, type Channels, type NotificationType
} from '../notifications/notifications.types.js'
import type { PreferencesRepository } from './preferences.repository.js'

export type PreferenceMap = Record<NotificationType, Channels>
export type PreferencePatch = Partial<Record<NotificationType, Partial<Channels>>>

export class PreferencesService {
  constructor (private readonly repo: PreferencesRepository) {}

  async get (userId: string): Promise<PreferenceMap> {
    const overrides = await this.repo.overrides(userId)
    const out = {} as PreferenceMap
    for (const type of NOTIFICATION_TYPES) {
      const c = overrides.get(type) ?? defaultChannels(type)
      out[type] = isSecurityType(type) ? { ...c, email: true } : c
    }
    return out
  }

  /** Applies a partial map (absent types and fields keep their setting); the full map after it. */
  async update (userId: string, patch: PreferencePatch): Promise<PreferenceMap> {
    const entries = Object.entries(patch) as Array<[NotificationType, Partial<Channels>]>
    for (const [type, c] of entries) {
      if (isSecurityType(type) && c.email === false) throw errors.SECURITY_EMAIL_REQUIRED(type)
    }
    const current = await this.get(userId)
    await this.repo.save(userId, entries.map(([type, c]) => [type, { ...current[type], ...c }]))
    return await this.get(userId)
  }

  /** Turns one type's mail off (unsubscribe links; never a security type). */
  async emailOff (userId: string, type: NotificationType): Promise<void> {
    await this.update(userId, { [type]: { email: false } })
  }
}
