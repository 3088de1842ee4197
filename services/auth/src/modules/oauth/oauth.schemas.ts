import { Type, type Static } from 'typebox'
import { UuidSchema } from '@holo/shared'
import { SignInModeSchema } from '../accounts/accounts.schemas.js'
import { PROVIDER_KEY_PATTERN } from './oauth.settings.js'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(s: T) => Type.Union([Type.Null(), s])

export const ProviderParamsSchema = Type.Object({
  provider: Type.String({ pattern: PROVIDER_KEY_PATTERN, description: 'A provider key from GET /oauth/providers' })
})

const RedirectTo = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'Where the browser returns with the Holo code: an origin or app scheme of OAUTH_REDIRECT_ALLOWLIST',
  examples: ['https://app.holo.cards/signed-in', 'cards.holo.app:/oauth']
})
// RFC 7636: base64url of a SHA-256 is 43 characters; verifiers are 43–128 of the unreserved set.
const CodeChallenge = Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: 'BASE64URL(SHA256(code_verifier))' })
const CodeVerifier = Type.String({ pattern: '^[A-Za-z0-9._~-]{43,128}$', description: 'The PKCE verifier (RFC 7636)' })
const HoloCode = Type.String({ minLength: 16, maxLength: 128, description: 'The single-use code from the redirect' })

export const ProviderInfoSchema = Type.Object({
  key: Type.String(),
  name: Type.String({ description: 'For the button: "Continue with <name>"' }),
  kind: Type.Union([Type.Literal('oidc'), Type.Literal('github')]),
  startUrl: Type.String({ description: 'GET it (as a browser navigation) with ?redirectTo=' })
}, { $id: 'OAuthProvider' })
export type ProviderInfo = Static<typeof ProviderInfoSchema>
export const ProviderListSchema = Type.Object({ items: Type.Array(ProviderInfoSchema) })

export const StartQuerySchema = Type.Object({
  redirectTo: RedirectTo,
  code_challenge: Type.Optional(CodeChallenge),
  code_challenge_method: Type.Optional(Type.Literal('S256')),
  // Named so that the kit's log redaction hides it (a `ticket` query parameter).
  linkTicket: Type.Optional(Type.String({
    minLength: 16,
    maxLength: 128,
    description: 'A link ticket (POST /oauth/{provider}/link)'
  }))
}, { additionalProperties: false })

// The provider's answer: every field optional here, the service names what is wrong (state first).
export const CallbackQuerySchema = Type.Object({
  state: Type.Optional(Type.String({ maxLength: 512 })),
  code: Type.Optional(Type.String({ maxLength: 4096 })),
  iss: Type.Optional(Type.String({ maxLength: 2048 })),
  scope: Type.Optional(Type.String({ maxLength: 2048 })),
  authuser: Type.Optional(Type.String({ maxLength: 64 })),
  prompt: Type.Optional(Type.String({ maxLength: 64 })),
  hd: Type.Optional(Type.String({ maxLength: 256 })),
  error: Type.Optional(Type.String({ maxLength: 256 })),
  error_description: Type.Optional(Type.String({ maxLength: 2048 })),
  error_uri: Type.Optional(Type.String({ maxLength: 2048 })),
  session_state: Type.Optional(Type.String({ maxLength: 512 }))
})

export const CallbackFormSchema = Type.Object({
  state: Type.Optional(Type.String({ maxLength: 512 })),
  code: Type.Optional(Type.String({ maxLength: 4096 })),
  id_token: Type.Optional(Type.String({ maxLength: 16384 })),
  user: Type.Optional(Type.String({ maxLength: 4096 })),
  error: Type.Optional(Type.String({ maxLength: 256 }))
}, { examples: [{ code: 'c1f0…', state: 'the state of the sign-in' }] })

export const ExchangeBodySchema = Type.Object({
  code: HoloCode,
  codeVerifier: Type.Optional(CodeVerifier),
  mode: Type.Optional(SignInModeSchema)
}, { additionalProperties: false, examples: [{ code: 'the code from the redirect' }] })
export type ExchangeBody = Static<typeof ExchangeBodySchema>

export const LinkBodySchema = Type.Object({
  redirectTo: RedirectTo,
  codeChallenge: Type.Optional(CodeChallenge)
}, { additionalProperties: false, examples: [{ redirectTo: 'https://app.holo.cards/settings/identities' }] })

export const LinkStartSchema = Type.Object({
  startUrl: Type.String({
    description: 'Open it in the browser (a one-time link ticket, valid OAUTH_FLOW_TTL_SECONDS)'
  })
})

export const IdentitySchema = Type.Object({
  id: UuidSchema,
  provider: Type.String(),
  email: Nullable(Type.String()),
  emailVerified: Type.Boolean({ description: 'Whether the provider said the email is verified' }),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Nullable(Type.String({ format: 'date-time' }))
}, { $id: 'Identity', description: 'An account at a sign-in provider that signs in to yours' })
export type Identity = Static<typeof IdentitySchema>
export const IdentityListSchema = Type.Object({ items: Type.Array(IdentitySchema) })
