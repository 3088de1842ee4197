// infra/src/dev-oidc.ts does not release a `picture` claim yet. Until it does (a DevUser `picture` field, `picture`
// in the profile scope's claims), this makes a running dev provider release one for the users given: it adds the
// claim to the provider's processed configuration and wraps its findAccount. The provider stays the real one.
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import type { DevOidc } from '../../../infra/src/dev-oidc.js'

type Claims = Record<string, unknown>
interface Account { accountId: string, claims: (...args: unknown[]) => Promise<Claims> }
interface ProviderConfiguration {
  claims: Record<string, Record<string, null>>
  claimsSupported: Set<string>
  findAccount: (...args: unknown[]) => Promise<Account | undefined>
}

/** From now on the provider's ID tokens carry `picture: pictureOf(email)` when it returns a URL. */
export async function releasePictures (dev: DevOidc, pictureOf: (email: string) => string | undefined): Promise<void> {
  // The same module instance as the provider's own (resolved from infra, which depends on oidc-provider).
  const require = createRequire(new URL('../../../infra/package.json', import.meta.url))
  const path = require.resolve('oidc-provider/lib/helpers/weak_cache.js')
  const weak = await import(pathToFileURL(path).href) as { default: (p: unknown) => { configuration: ProviderConfiguration } }
  const configuration = weak.default(dev.provider).configuration
  const profile = configuration.claims.profile
  if (profile === undefined) throw new Error('the dev provider has no profile scope')
  profile.picture = null
  configuration.claimsSupported.add('picture')
  const find = configuration.findAccount
  configuration.findAccount = async (...args: unknown[]) => {
    const account = await find(...args)
    if (account === undefined) return undefined
    return {
      ...account,
      claims: async (...c: unknown[]) => {
        const claims = await account.claims(...c)
        const picture = typeof claims.email === 'string' ? pictureOf(claims.email) : undefined
        return picture === undefined ? claims : { ...claims, picture }
      }
    }
  }
}
