import { Type } from 'typebox'
import { NOTIFICATION_TYPES } from '../notifications/notifications.types.js'

export const ChannelsSchema = Type.Object({
  inApp: Type.Boolean({ description: 'An inbox entry (and a live message)' }),
  email: Type.Boolean({ description: 'A mail (always on for security types)' })
})

export const ChannelsPatchSchema = Type.Object({
  inApp: Type.Optional(Type.Boolean()),
  email: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

export const PreferencesSchema = Type.Object({
  types: Type.Object(Object.fromEntries(NOTIFICATION_TYPES.map((t) => [t, ChannelsSchema])) as
    Record<typeof NOTIFICATION_TYPES[number], typeof ChannelsSchema>)
})

export const PreferencesPatchSchema = Type.Object({
  types: Type.Object(Object.fromEntries(NOTIFICATION_TYPES.map((t) => [t, Type.Optional(ChannelsPatchSchema)])) as
    Record<typeof NOTIFICATION_TYPES[number], ReturnType<typeof Type.Optional<typeof ChannelsPatchSchema>>>, {
    additionalProperties: false,
    description: 'Only the types to change; an unknown type is a 400'
  })
}, { additionalProperties: false, examples: [{ types: { 'card.liked': { email: true }, welcome: { inApp: false } } }] })
