import { hash, verify } from '@node-rs/argon2'
import { COMMON_PASSWORDS } from './common-passwords.js'

export interface HashParams { memoryCost: number, timeCost: number, parallelism: number }

/**
 * argon2id hashing (the library's default algorithm). The async API runs on
 * libuv's thread pool, so hashing never blocks the event loop.
 */
export class PasswordHasher {
  private dummy: Promise<string> | undefined

  constructor (private readonly params: HashParams) {}

  hash (password: string): Promise<string> {
    return hash(password, this.params)
  }

  async verify (passwordHash: string, password: string): Promise<boolean> {
    try {
      return await verify(passwordHash, password)
    } catch {
      return false
    }
  }

  /** Spends the time of one verification on a hash that never matches (unknown accounts). */
  async burn (password: string): Promise<void> {
    this.dummy ??= this.hash(`dummy-${Math.random()}`)
    await this.verify(await this.dummy, password)
  }
}

/** Why a password is refused, or undefined when it is acceptable. */
export function passwordProblem (
  password: string,
  context: { email?: string, username?: string } = {}
): string | undefined {
  const lowered = password.toLowerCase()
  if (COMMON_PASSWORDS.has(lowered)) return 'is too common; choose a less guessable password'
  if (new Set(password).size < 4) return 'uses too few different characters'
  const local = context.email?.split('@')[0]
  const isLocalPart = local !== undefined && local.length >= 4 && lowered === local.toLowerCase()
  if (isLocalPart || (context.username !== undefined && lowered === context.username.toLowerCase())) {
    return 'must not be your email or username'
  }
  return undefined
}
