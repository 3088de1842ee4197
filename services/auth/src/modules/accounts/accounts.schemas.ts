import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, ROLE_NAME_PATTERN, UUID_PATTERN, UuidSchema } from '@holo/shared'

/** A role's name; roles are data (GET /api/v1/auth/roles lists them). */
export const RoleSchema = Type.String({
  pattern: ROLE_NAME_PATTERN,
  description: 'A role\'s name (GET /api/v1/auth/roles lists the roles)',
  examples: ['moderator']
})

// Surrounding blanks are allowed: the service trims and lower-cases emails.
const Email = Type.String({
  pattern: '^\\s*[^\\s@]+@[^\\s@]+\\.[^\\s@]+\\s*$',
  maxLength: 254,
  description: 'An email address',
  examples: ['ada@example.com']
})
const Username = Type.String({
  pattern: '^[A-Za-z0-9_]{3,32}$',
  description: '3–32 of a-z, 0-9 and _; stored lower-case',
  examples: ['ada_l']
})
const NewPassword = Type.String({
  minLength: 10,
  maxLength: 128,
  description: '10–128 characters, not a common password',
  examples: ['correct horse battery']
})
const AnyPassword = Type.String({ minLength: 1, maxLength: 128, examples: ['correct horse battery'] })
const OpaqueToken = Type.String({ minLength: 16, maxLength: 128, description: 'An opaque token' })
// Null first: with Ajv type coercion a string branch tried first would turn null into "".
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(s: T) => Type.Union([Type.Null(), s])

export const UserSchema = Type.Object({
  id: UuidSchema,
  email: Type.String(),
  username: Type.String(),
  displayName: Nullable(Type.String()),
  bio: Nullable(Type.String()),
  avatarFileId: Nullable(UuidSchema),
  roles: Type.Array(RoleSchema),
  emailVerified: Type.Boolean(),
  disabled: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' })
}, { $id: 'User', description: 'An account, as its owner or an admin sees it' })
export type User = Static<typeof UserSchema>

export const MeSchema = Type.Object({
  ...UserSchema.properties,
  permissions: Type.Array(Type.String(), {
    description: 'What the caller\'s roles allow now (PERMISSIONS in @holo/shared): a client shows what it may do'
  })
}, { $id: 'Me', description: 'The caller\'s account and effective permissions' })
export type Me = Static<typeof MeSchema>

export const ProfileSchema = Type.Object({
  id: UuidSchema,
  username: Type.String(),
  displayName: Nullable(Type.String()),
  bio: Nullable(Type.String()),
  avatarFileId: Nullable(UuidSchema)
}, { $id: 'Profile', description: 'What anyone may see of an account' })
export type Profile = Static<typeof ProfileSchema>

export const AuthResultSchema = Type.Object({
  user: UserSchema,
  accessToken: Type.String({ description: 'EdDSA-signed JWT, send as "Authorization: Bearer ..."' }),
  refreshToken: Type.Optional(Type.String({
    description: 'Opaque; single use: every refresh returns a new one. Absent in cookie mode: the refresh token ' +
      'is then in the HttpOnly refresh cookie'
  })),
  csrfToken: Type.Optional(Type.String({
    description: 'Cookie mode only, answered once when the session starts: send it as X-CSRF-Token to ' +
      'POST /refresh and /logout for the life of the session'
  })),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires' })
}, { $id: 'AuthResult' })
export type AuthResult = Static<typeof AuthResultSchema>

/** Where a sign-in puts its refresh token: in the JSON answer (apps), or in an HttpOnly cookie (browsers). */
export const SignInModeSchema = Type.Union([Type.Literal('json'), Type.Literal('cookie')], {
  default: 'json',
  description: '`json` (default): the refresh token is in the answer. `cookie` (first-party browsers): it is set ' +
    'as an HttpOnly, SameSite=Strict cookie and the answer carries a csrfToken instead'
})
export type SignInMode = Static<typeof SignInModeSchema>
const Mode = Type.Optional(SignInModeSchema)

export const SessionSchema = Type.Object({
  id: UuidSchema,
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.String({ format: 'date-time' }),
  userAgent: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  provider: Type.String({ description: 'How the session was opened: `password` or a sign-in provider\'s key' }),
  current: Type.Boolean({ description: 'True for the session of the calling access token' })
}, { $id: 'Session' })
export type Session = Static<typeof SessionSchema>

export const RegisterBodySchema = Type.Object({
  email: Email,
  password: NewPassword,
  username: Username,
  mode: Mode
}, {
  additionalProperties: false,
  examples: [{ email: 'ada@example.com', password: 'correct horse battery', username: 'ada_l' }]
})
export type RegisterBody = Static<typeof RegisterBodySchema>

export const LoginBodySchema = Type.Object({
  email: Type.String({ minLength: 3, maxLength: 254, examples: ['ada@example.com'] }),
  password: AnyPassword,
  mode: Mode
}, {
  additionalProperties: false,
  examples: [
    { email: 'ada@example.com', password: 'correct horse battery' },
    { email: 'ada@example.com', password: 'correct horse battery', mode: 'cookie' }
  ]
})
export type LoginBody = Static<typeof LoginBodySchema>

export const RefreshBodySchema = Type.Object({
  refreshToken: Type.Optional(OpaqueToken)
}, {
  additionalProperties: false,
  description: 'The refresh token; leave it out (an empty object or no body) to use the refresh cookie',
  examples: [{ refreshToken: 'pQ7v0mXo8d3W1nJ2cF5kE9aT4yH6uB0rL3sG8zV1xM' }, {}]
})

/** The CSRF token of a cookie-mode session, required whenever its refresh token is presented. */
export const CsrfHeadersSchema = Type.Object({
  'x-csrf-token': Type.Optional(Type.String({
    maxLength: 256,
    description: 'The csrfToken of the sign-in; required when the refresh token comes from the cookie ' +
      '(or belongs to a cookie-mode session)'
  }))
})

export const ChangePasswordBodySchema = Type.Object({
  currentPassword: AnyPassword,
  newPassword: NewPassword
}, {
  additionalProperties: false,
  examples: [{ currentPassword: 'correct horse battery', newPassword: 'another long passphrase' }]
})
export type ChangePasswordBody = Static<typeof ChangePasswordBodySchema>

export const ResetRequestBodySchema = Type.Object({
  email: Type.String({ minLength: 3, maxLength: 254 })
}, { additionalProperties: false, examples: [{ email: 'ada@example.com' }] })

export const ResetConfirmBodySchema = Type.Object({
  token: OpaqueToken,
  password: NewPassword
}, {
  additionalProperties: false,
  examples: [{ token: 'the token from the email', password: 'another long passphrase' }]
})
export type ResetConfirmBody = Static<typeof ResetConfirmBodySchema>

export const VerifyEmailBodySchema = Type.Object({
  token: OpaqueToken
}, { additionalProperties: false, examples: [{ token: 'the token from the email' }] })

export const UpdateMeBodySchema = Type.Object({
  username: Type.Optional(Username),
  displayName: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 64 }))),
  bio: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
  avatarFileId: Type.Optional(Nullable(UuidSchema))
}, {
  additionalProperties: false,
  minProperties: 1,
  examples: [{ displayName: 'Ada', bio: 'I collect holo cards' }]
})
export type UpdateMeBody = Static<typeof UpdateMeBodySchema>

export const AdminUpdateBodySchema = Type.Object({
  roles: Type.Optional(Type.Array(RoleSchema, { maxItems: 32, uniqueItems: true })),
  disabled: Type.Optional(Type.Boolean())
}, {
  additionalProperties: false,
  minProperties: 1,
  examples: [{ roles: ['user', 'creator'] }, { disabled: true }]
})
export type AdminUpdateBody = Static<typeof AdminUpdateBodySchema>

export const UserListQuerySchema = Type.Object({
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Part of an email or username' })),
  role: Type.Optional(RoleSchema),
  limit: LimitSchema,
  cursor: Type.Optional(CursorSchema)
}, { additionalProperties: false })
export type UserListQuery = Static<typeof UserListQuerySchema>

export const UserPageSchema = Type.Object({
  items: Type.Array(UserSchema),
  nextCursor: Nullable(Type.String())
})
export type UserPage = Static<typeof UserPageSchema>

const UUID_BODY = UUID_PATTERN.slice(1, -1)

export const ProfilesQuerySchema = Type.Object({
  ids: Type.String({
    pattern: `^${UUID_BODY}(,${UUID_BODY}){0,99}$`,
    description: 'Up to 100 user ids, comma-separated'
  })
}, { additionalProperties: false })

export const ProfileListSchema = Type.Object({ items: Type.Array(ProfileSchema) })
export const SessionListSchema = Type.Object({ items: Type.Array(SessionSchema) })

/** One session of one account (the admin routes). */
export const UserSessionParamsSchema = Type.Object({ id: UuidSchema, sessionId: UuidSchema })

export const JwksSchema = Type.Object({
  keys: Type.Array(Type.Object({
    kid: Type.String(),
    kty: Type.String(),
    crv: Type.Optional(Type.String()),
    x: Type.Optional(Type.String()),
    y: Type.Optional(Type.String()),
    alg: Type.String(),
    use: Type.String()
  }))
})
