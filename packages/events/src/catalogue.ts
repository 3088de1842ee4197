// The catalogue: every event the system publishes, with its data schema, its
// TypeScript type and its documentation. Producers can only make the types
// listed here (makeEvent), consumers validate what they read against the same
// schemas (parseEvent), and the AsyncAPI document is generated from it.
//
// Compatibility: adding an optional data field is compatible (data objects
// accept properties they do not list, so an older consumer still validates a
// newer producer's event). Anything else (a new required field, a renamed
// field, a new enum value) is a new version: `holo.card.liked.v2` beside v1.
import { Type, type Static, type TSchema } from 'typebox'

/** Who publishes: the producer's stream name and its CloudEvents `source`. */
export const PRODUCERS = { auth: 'holo-auth', card: 'holo-card', file: 'holo-file', billing: 'holo-billing' } as const
export type Producer = keyof typeof PRODUCERS
export type Source = typeof PRODUCERS[Producer]

/**
 * Whether an event carries `actorid`: `required` (a person did it), `optional`
 * (a person or the system, e.g. an expired session) or `none` (never a person).
 */
export type ActorRule = 'required' | 'optional' | 'none'

export interface EventSpec<
  P extends Producer = Producer, A extends ActorRule = ActorRule, S extends TSchema = TSchema
> {
  producer: P
  /** What the envelope's `subject` is (an entity id). */
  subject: string
  actor: A
  /** Who the actor is, when there is one. */
  actorIs: string
  description: string
  data: S
  /**
   * `false` for aggregates that record nobody's action (counted views): the audit log, which answers who did
   * what, leaves them out; every other type is audited.
   */
  audited?: false
}

// Keeps each entry's literal types (producer, actor rule, data schema) for the types derived below.
const spec = <P extends Producer, A extends ActorRule, S extends TSchema>(s: EventSpec<P, A, S>): EventSpec<P, A, S> =>
  s

const Uuid = (description: string) => Type.String({ format: 'uuid', description })
const NullableUuid = (description: string) =>
  Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description })
const Count = (description: string) => Type.Integer({ minimum: 0, description })
const FieldNames = (description: string) =>
  Type.Array(Type.String({ minLength: 1 }), { minItems: 1, uniqueItems: true, description })
/** Cards and collections share these (VisibilitySchema of the card service). */
const Visibility = (description: string) => Type.Enum(['public', 'unlisted', 'private'], { description })
const Roles = (description: string) => Type.Array(Type.String({ minLength: 1 }), { uniqueItems: true, description })
const Permissions = (description: string) =>
  Type.Array(Type.String({ minLength: 1 }), { uniqueItems: true, description })
const RevokedSessions = Type.Optional(Count('How many of the user\'s other sessions this ended'))

const ownerId = Uuid('The owner of the card')
/** What a payment or an entitlement is for: one premium template, or Holo+ (every premium template). */
const Product = Type.Enum(['template', 'holo-plus'], { description: 'A premium template, or Holo+' })
/** Why a user reported a card. */
const ReportReason = Type.Enum(['spam', 'nsfw', 'copyright', 'harassment', 'other'], { description: 'Why it was reported' })
const Currency = Type.String({ pattern: '^[a-z]{3}$', description: 'ISO 4217 code, lower case' })

export const catalogue = {
  // ---- auth ------------------------------------------------------------
  'holo.user.registered.v1': spec({
    producer: 'auth',
    subject: 'user id',
    actor: 'required',
    actorIs: 'the new user',
    description: 'An account was created (not yet verified).',
    data: Type.Object({
      email: Type.String({ minLength: 3, description: 'The address the account was registered with' }),
      username: Type.String({ minLength: 1 })
    })
  }),
  'holo.user.email_verified.v1': spec({
    producer: 'auth',
    subject: 'user id',
    actor: 'required',
    actorIs: 'the user',
    description: 'The user proved they own their email address.',
    data: Type.Object({ email: Type.String({ minLength: 3 }) })
  }),
  'holo.user.logged_in.v1': spec({
    producer: 'auth',
    subject: 'user id',
    actor: 'required',
    actorIs: 'the user',
    description: 'A password login succeeded and opened a session (refreshes are not logins).',
    data: Type.Object({
      sessionId: Uuid('The session the login opened'),
      ip: Type.String({ minLength: 1, description: 'The client address as the gateway saw it' }),
      userAgent: Type.Union([Type.String(), Type.Null()], { description: 'The client\'s User-Agent, if it sent one' }),
      newDevice: Type.Boolean({
        description: 'True when this user agent had not signed in to the account from this network (an IPv4 /24, ' +
          'an IPv6 /64) in the last 90 days'
      })
    })
  }),
  'holo.user.password_changed.v1': spec({
    producer: 'auth',
    subject: 'user id',
    actor: 'required',
    actorIs: 'the user',
    description: 'The user changed their password while signed in.',
    data: Type.Object({ revokedSessions: RevokedSessions })
  }),
  'holo.user.password_reset.v1': spec({
    producer: 'auth',
    subject: 'user id',
    actor: 'required',
    actorIs: 'the user (who proved the reset token)',
    description: 'A password was set through a password-reset link.',
    data: Type.Object({ revokedSessions: RevokedSessions })
  }),
  'holo.user.roles_changed.v1': spec({
    producer: 'auth',
    subject: 'user id',
    actor: 'optional',
    actorIs: 'the administrator; absent when the auth service promoted the account at start (BOOTSTRAP_ADMIN_EMAIL)',
    description: 'An administrator changed the user\'s roles.',
    data: Type.Object({
      roles: Roles('The roles now'),
      previousRoles: Roles('The roles before')
    })
  }),
  'holo.user.disabled.v1': spec({
    producer: 'auth',
    subject: 'user id',
    actor: 'required',
    actorIs: 'the administrator',
    description: 'An administrator disabled the account; its sessions end.',
    data: Type.Object({
      reason: Type.Optional(Type.String({ description: 'Why, as the administrator wrote it' })),
      revokedSessions: RevokedSessions
    })
  }),
  'holo.user.enabled.v1': spec({
    producer: 'auth',
    subject: 'user id',
    actor: 'required',
    actorIs: 'the administrator',
    description: 'An administrator enabled a disabled account again.',
    data: Type.Object({})
  }),
  'holo.role.changed.v1': spec({
    producer: 'auth',
    subject: 'role name',
    actor: 'required',
    actorIs: 'the administrator',
    description: 'A role was created or its permissions replaced; every service applies it within seconds.',
    data: Type.Object({
      permissions: Permissions('The permissions the role grants now'),
      previousPermissions: Type.Union([Permissions('The permissions before'), Type.Null()], {
        description: 'The permissions before; null when the role was created'
      })
    })
  }),
  'holo.role.deleted.v1': spec({
    producer: 'auth',
    subject: 'role name',
    actor: 'required',
    actorIs: 'the administrator',
    description: 'A role no account held was deleted.',
    data: Type.Object({ previousPermissions: Permissions('The permissions the role granted') })
  }),
  'holo.user.profile_updated.v1': spec({
    producer: 'auth',
    subject: 'user id',
    actor: 'required',
    actorIs: 'the user',
    description: 'The user changed their public profile: the names of the changed fields, and the new public ' +
      'names (username, displayName) when they changed, so consumers can show who did what.',
    data: Type.Object({
      changed: FieldNames('The fields that changed (displayName, bio, avatarFileId, ...)'),
      avatarFileId: Type.Optional(NullableUuid('The new avatar file, when avatarFileId changed')),
      username: Type.Optional(Type.String({ minLength: 1, description: 'The new username, when it changed' })),
      displayName: Type.Optional(Type.Union([Type.String(), Type.Null()], {
        description: 'The new display name, when it changed'
      }))
    })
  }),
  'holo.session.revoked.v1': spec({
    producer: 'auth',
    subject: 'session id',
    actor: 'optional',
    actorIs: 'the user signing out or an administrator; absent when the system ended it (e.g. a reused refresh token)',
    description: 'A session ended before it expired; its tokens no longer refresh.',
    data: Type.Object({
      userId: Uuid('Whose session it was'),
      reason: Type.String({ minLength: 1, description: 'Why (logout, password_changed, refresh_reuse, ...)' })
    })
  }),

  // ---- card ------------------------------------------------------------
  'holo.card.created.v1': spec({
    producer: 'card',
    subject: 'card id',
    actor: 'required',
    actorIs: 'the owner',
    description: 'A card was created.',
    data: Type.Object({
      ownerId,
      title: Type.String(),
      visibility: Visibility('Who may see the card'),
      rarity: Type.String({ minLength: 1 }),
      templateId: NullableUuid('The template it was made from'),
      artworkFileId: NullableUuid('Its artwork (a file of the file service)')
    })
  }),
  'holo.card.updated.v1': spec({
    producer: 'card',
    subject: 'card id',
    actor: 'required',
    actorIs: 'the owner, or staff',
    description: 'A card\'s content changed (visibility changes have their own event).',
    data: Type.Object({
      ownerId,
      version: Type.Integer({ minimum: 1, description: 'The card\'s version after the change' }),
      changed: FieldNames('The fields that changed'),
      title: Type.Optional(Type.String({ description: 'The new title, when it changed' }))
    })
  }),
  'holo.card.deleted.v1': spec({
    producer: 'card',
    subject: 'card id',
    actor: 'required',
    actorIs: 'the owner, or an administrator',
    description: 'A card was deleted.',
    data: Type.Object({ ownerId })
  }),
  'holo.card.visibility_changed.v1': spec({
    producer: 'card',
    subject: 'card id',
    actor: 'required',
    actorIs: 'the owner',
    description: 'A card\'s visibility changed.',
    data: Type.Object({
      ownerId,
      visibility: Visibility('The visibility now'),
      previousVisibility: Visibility('The visibility before')
    })
  }),
  'holo.card.liked.v1': spec({
    producer: 'card',
    subject: 'card id',
    actor: 'required',
    actorIs: 'the user who liked it',
    description: 'A user liked a card (liking twice publishes once).',
    data: Type.Object({ ownerId, likeCount: Count('The card\'s likes after this one') })
  }),
  'holo.card.unliked.v1': spec({
    producer: 'card',
    subject: 'card id',
    actor: 'required',
    actorIs: 'the user who took their like back',
    description: 'A user took back their like.',
    data: Type.Object({ ownerId, likeCount: Count('The card\'s likes after this') })
  }),
  'holo.card.hidden.v1': spec({
    producer: 'card',
    subject: 'card id',
    actor: 'required',
    actorIs: 'the moderator or administrator; for an automatic hide, the user whose report reached the threshold',
    description: 'Staff hid a card from everyone but its owner and staff (a moderation event), or enough users ' +
      'reported it and it is hidden pending review (`automatic`).',
    data: Type.Object({
      ownerId,
      reason: Type.Optional(Type.String({ description: 'Why, as staff wrote it' })),
      automatic: Type.Optional(Type.Boolean({
        description: 'True when reports by MODERATION_AUTO_HIDE_REPORTS distinct users hid it, pending review'
      }))
    })
  }),
  'holo.card.unhidden.v1': spec({
    producer: 'card',
    subject: 'card id',
    actor: 'required',
    actorIs: 'the moderator or administrator',
    description: 'Staff showed a hidden card again (a moderation event).',
    data: Type.Object({ ownerId })
  }),
  'holo.card.reported.v1': spec({
    producer: 'card',
    subject: 'card id',
    actor: 'required',
    actorIs: 'the user who reported it',
    description: 'A user reported a card to the moderators (a moderation event).',
    data: Type.Object({
      ownerId,
      reportId: Uuid('The report'),
      reason: ReportReason,
      note: Type.Optional(Type.String({ description: 'What the reporter wrote' })),
      openReports: Count('Distinct users with an open report on the card, this one included')
    })
  }),
  'holo.card.reports_resolved.v1': spec({
    producer: 'card',
    subject: 'card id',
    actor: 'required',
    actorIs: 'the moderator or administrator',
    description: 'Staff resolved every open report of a card (a moderation event): hid the card, dismissed the ' +
      'reports or warned the owner.',
    data: Type.Object({
      ownerId,
      action: Type.Enum(['hide', 'dismiss', 'warn'], { description: 'What staff decided' }),
      note: Type.Optional(Type.String({ description: 'Why, as staff wrote it' })),
      reportIds: Type.Array(Type.String({ format: 'uuid' }), { minItems: 1, description: 'The reports resolved' }),
      reporterIds: Type.Array(Type.String({ format: 'uuid' }), {
        minItems: 1, uniqueItems: true, description: 'Who had reported it'
      })
    })
  }),
  'holo.card.views_counted.v1': spec({
    producer: 'card',
    subject: 'card id',
    actor: 'none',
    actorIs: 'nobody: each card service instance counts views in memory and publishes them in aggregate',
    description: 'Views of a card by anyone but its owner, counted over [from, to).',
    audited: false,
    data: Type.Object({
      views: Type.Integer({ minimum: 1, description: 'Views in the interval' }),
      from: Type.String({ format: 'date-time', description: 'Start of the interval (inclusive)' }),
      to: Type.String({ format: 'date-time', description: 'End of the interval (exclusive)' })
    })
  }),
  'holo.template.created.v1': spec({
    producer: 'card',
    subject: 'template id',
    actor: 'required',
    actorIs: 'the author',
    description: 'A card template was created as a draft.',
    data: Type.Object({
      authorId: Uuid('The template\'s author'),
      name: Type.String(),
      premium: Type.Boolean()
    })
  }),
  'holo.template.published.v1': spec({
    producer: 'card',
    subject: 'template id',
    actor: 'required',
    actorIs: 'the author, or an administrator',
    description: 'A template was published: anyone may now make cards from it.',
    data: Type.Object({ authorId: Uuid('The template\'s author') })
  }),
  'holo.template.archived.v1': spec({
    producer: 'card',
    subject: 'template id',
    actor: 'required',
    actorIs: 'the author, or an administrator',
    description: 'A template was archived: no new cards from it.',
    data: Type.Object({ authorId: Uuid('The template\'s author') })
  }),
  'holo.collection.created.v1': spec({
    producer: 'card',
    subject: 'collection id',
    actor: 'required',
    actorIs: 'the owner',
    description: 'A collection was created.',
    data: Type.Object({
      ownerId: Uuid('The owner of the collection'),
      name: Type.String(),
      visibility: Visibility('Who may see the collection')
    })
  }),
  'holo.collection.card_added.v1': spec({
    producer: 'card',
    subject: 'collection id',
    actor: 'required',
    actorIs: 'the owner of the collection',
    description: 'A card was added to a collection.',
    data: Type.Object({
      ownerId: Uuid('The owner of the collection'),
      cardId: Uuid('The card added'),
      position: Count('Its position in the collection')
    })
  }),
  'holo.collection.card_removed.v1': spec({
    producer: 'card',
    subject: 'collection id',
    actor: 'required',
    actorIs: 'the owner of the collection',
    description: 'A card was removed from a collection.',
    data: Type.Object({
      ownerId: Uuid('The owner of the collection'),
      cardId: Uuid('The card removed')
    })
  }),

  // ---- file ------------------------------------------------------------
  'holo.file.uploaded.v1': spec({
    producer: 'file',
    subject: 'file id',
    actor: 'required',
    actorIs: 'the uploader (its owner)',
    description: 'A file was uploaded and stored.',
    data: Type.Object({
      ownerId: Uuid('Who owns the file'),
      size: Count('Bytes stored'),
      contentType: Type.String({ minLength: 1 }),
      purpose: Type.Optional(Type.String({ description: 'What the file is for (artwork, avatar, ...)' }))
    })
  }),
  'holo.file.deleted.v1': spec({
    producer: 'file',
    subject: 'file id',
    actor: 'optional',
    actorIs: 'the owner or an administrator; absent when the orphan cleaner removed it',
    description: 'A file was deleted; its bytes no longer count against the owner\'s storage.',
    data: Type.Object({
      ownerId: Uuid('Who owned the file'),
      size: Count('Bytes freed')
    })
  }),

  // ---- billing ---------------------------------------------------------
  'holo.payment.succeeded.v1': spec({
    producer: 'billing',
    subject: 'payment id',
    actor: 'optional',
    actorIs: 'the buyer, for a checkout they completed; absent for a subscription renewal',
    description: 'A payment was received (a premium template bought, or a Holo+ invoice paid); the ledger ' +
      'recorded its split. Amounts are integers in minor units of `currency`.',
    data: Type.Object({
      userId: Uuid('Who paid'),
      product: Product,
      templateId: NullableUuid('The template bought; null for Holo+'),
      authorId: NullableUuid('The template\'s author, who earns `authorNet`; null for Holo+'),
      amount: Count('What the buyer paid (gross)'),
      currency: Currency,
      platformFee: Count('The platform\'s share'),
      stripeFee: Type.Union([Count('Stripe\'s fee'), Type.Null()], { description: 'Stripe\'s fee; null when not known' }),
      authorNet: Count('What the author earns (0 for Holo+)')
    })
  }),
  'holo.payment.refunded.v1': spec({
    producer: 'billing',
    subject: 'payment id',
    actor: 'optional',
    actorIs: 'the administrator who refunded it; absent when the refund came from Stripe (its dashboard)',
    description: 'A payment was refunded in full; the ledger reversed its entries.',
    data: Type.Object({
      userId: Uuid('Who had paid'),
      product: Product,
      templateId: NullableUuid('The template bought; null for Holo+'),
      authorId: NullableUuid('The template\'s author; null for Holo+'),
      amount: Count('What was refunded'),
      currency: Currency
    })
  }),
  'holo.entitlement.granted.v1': spec({
    producer: 'billing',
    subject: 'entitlement id',
    actor: 'none',
    actorIs: 'nobody: billing grants on Stripe\'s word',
    description: 'A user may use a premium template (one bought) or every premium template (Holo+) until ' +
      '`validUntil` (null: for good). A later grant of the same entitlement replaces the earlier one.',
    data: Type.Object({
      userId: Uuid('Who is entitled'),
      product: Product,
      templateId: NullableUuid('The template; null for Holo+ (every premium template)'),
      validUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
        description: 'When it ends; null for a purchase, which does not end'
      })
    })
  }),
  'holo.entitlement.revoked.v1': spec({
    producer: 'billing',
    subject: 'entitlement id',
    actor: 'optional',
    actorIs: 'the administrator whose refund ended it; absent when Stripe ended it',
    description: 'An entitlement ended before its time (a refund, a subscription that ended or was not paid).',
    data: Type.Object({
      userId: Uuid('Who was entitled'),
      product: Product,
      templateId: NullableUuid('The template; null for Holo+'),
      reason: Type.Enum(['refunded', 'subscription_ended'], { description: 'Why it ended' })
    })
  }),
  'holo.subscription.changed.v1': spec({
    producer: 'billing',
    subject: 'subscription id',
    actor: 'none',
    actorIs: 'nobody: Stripe reported the change',
    description: 'A Holo+ subscription started, renewed, was set to cancel at the period end, failed to renew ' +
      'or ended.',
    data: Type.Object({
      userId: Uuid('The subscriber'),
      status: Type.String({ minLength: 1, description: 'Stripe\'s status: active, past_due, canceled, ...' }),
      currentPeriodEnd: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
        description: 'When the paid period ends'
      }),
      cancelAtPeriodEnd: Type.Boolean({ description: 'Ends at currentPeriodEnd instead of renewing' })
    })
  })
} as const satisfies Record<string, EventSpec>

export type Catalogue = typeof catalogue
export type EventType = keyof Catalogue
/** The data of one event type, from its schema. */
export type EventData<T extends EventType> = Static<Catalogue[T]['data']>
export type ProducerOf<T extends EventType> = Catalogue[T]['producer']
export type SourceOf<T extends EventType> = typeof PRODUCERS[ProducerOf<T>]
export type ActorOf<T extends EventType> = Catalogue[T]['actor']

/** Every catalogued type, in catalogue order. */
export const eventTypes = Object.keys(catalogue) as EventType[]

export function isEventType (type: unknown): type is EventType {
  return typeof type === 'string' && Object.hasOwn(catalogue, type)
}

/** The types the audit log records: every type but the aggregates marked `audited: false`. */
export const auditedTypes: EventType[] = eventTypes.filter((t) => (catalogue[t] as EventSpec).audited !== false)

/** The types a producer publishes. */
export function typesOf (producer: Producer): EventType[] {
  return eventTypes.filter((t) => catalogue[t].producer === producer)
}
