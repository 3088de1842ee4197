import type { PrismaClient } from '../../generated/prisma/client.js'
import type { Channels, NotificationType } from '../notifications/notifications.types.js'

export class PreferencesRepository {
  constructor (private readonly prisma: PrismaClient) {}

  /** The user's overrides (types without one follow the defaults). */
  async overrides (userId: string): Promise<Map<string, Channels>> {
    const rows = await this.prisma.preference.findMany({ where: { userId } })
    return new Map(rows.map((r) => [r.type, { inApp: r.inApp, email: r.email }]))
  }

  /** Stores complete settings for the given types, in one transaction. */
  async save (userId: string, settings: Array<[NotificationType, Channels]>): Promise<void> {
    await this.prisma.$transaction(settings.map(([type, c]) => this.prisma.preference.upsert({
      where: { userId_type: { userId, type } },
      create: { userId, type, inApp: c.inApp, email: c.email },
      update: { inApp: c.inApp, email: c.email }
    })))
  }
}
