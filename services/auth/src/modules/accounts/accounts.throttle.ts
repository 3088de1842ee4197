import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import { commonErrors } from '@holo/shared'
import type { AuthMetrics } from '../../metrics.js'
import { retryAfterSeconds, type RateCounters } from '../../plugins/rate-limits.js'

export interface LoginThrottleOptions {
  /** Failed attempts per account + address per window; beyond it that pair gets 429. */
  perAccountIp: number
  /** Failed attempts per account per window; from there on unknown devices wait. */
  perAccount: number
  delayMs: number
  maxDelayMs: number
  knownDeviceTtlSeconds: number
}

/** One login attempt as the throttle sees it (the email already normalised). */
export interface LoginAttempt {
  email: string
  ip: string | null
  userAgent: string | null
  log: FastifyBaseLogger
}

const digest = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 32)
/** The account part of a counter's key: a hash, so Redis holds no email address. */
export const accountKey = (normalisedEmail: string): string => digest(normalisedEmail)
const deviceOf = (a: LoginAttempt): string => digest(`${a.ip ?? ''}\n${a.userAgent ?? ''}`)
const KNOWN_DEVICES_KEPT = 20

/**
 * Brute-force protection in the manner of Auth0's: the hard limit is per
 * account AND address, so an attacker only locks out their own address;
 * account-wide failures merely slow down devices that never signed in to the
 * account before, and the owner's known devices are not slowed at all.
 */
export class LoginThrottle {
  constructor (
    private readonly counters: RateCounters,
    private readonly o: LoginThrottleOptions,
    private readonly metrics: AuthMetrics
  ) {}

  private names (a: LoginAttempt): { pair: string, account: string, known: string } {
    const account = accountKey(a.email)
    return {
      pair: `login:account-ip:${account}:${a.ip ?? ''}`,
      account: `login:account:${account}`,
      known: `login:known:${account}`
    }
  }

  /** Before the password is checked: 429 for a pair over its limit, else waits if needed; returns the wait. */
  async before (a: LoginAttempt): Promise<number> {
    const names = this.names(a)
    let pair: { count: number, ttlMs: number }
    let failures: number
    try {
      // Every attempt counts for the pair before it is verified, so parallel guesses cannot overshoot.
      [pair, failures] = await Promise.all([this.counters.hit(names.pair), this.counters.peek(names.account)])
    } catch (err) {
      a.log.error({ err }, 'login throttle skipped: Redis unavailable')
      return 0
    }
    if (pair.count > this.o.perAccountIp) {
      this.metrics.throttled('refused')
      a.log.warn({ limit: 'login:account-ip' }, 'rate limit exceeded')
      throw commonErrors.RATE_LIMITED(retryAfterSeconds(pair.ttlMs))
    }
    if (failures < this.o.perAccount || await this.isKnown(names.known, a)) return 0
    const delayMs = Math.min(this.o.maxDelayMs, this.o.delayMs * 2 ** Math.min(failures - this.o.perAccount, 30))
    if (delayMs === 0) return 0
    this.metrics.throttled('delayed')
    a.log.warn({ delayMs }, 'login slowed down: many failures for this account')
    await sleep(delayMs)
    return delayMs
  }

  private async isKnown (name: string, a: LoginAttempt): Promise<boolean> {
    try {
      const seen = await this.counters.redis.zscore(this.counters.key(name), deviceOf(a))
      return seen !== null && Number(seen) > Date.now() - this.o.knownDeviceTtlSeconds * 1000
    } catch (err) {
      a.log.error({ err }, 'known-device check skipped: Redis unavailable')
      return false
    }
  }

  /** A wrong password or an unknown email (both count, so the answer never tells which). */
  async failed (a: LoginAttempt): Promise<void> {
    try {
      await this.counters.hit(this.names(a).account)
    } catch (err) {
      a.log.error({ err }, 'login failure not counted: Redis unavailable')
    }
  }

  /** The right password: the pair starts over and the device becomes known. */
  async succeeded (a: LoginAttempt): Promise<void> {
    const names = this.names(a)
    const known = this.counters.key(names.known)
    try {
      await this.counters.redis.multi()
        .del(this.counters.key(names.pair))
        .zadd(known, Date.now(), deviceOf(a))
        .zremrangebyrank(known, 0, -(KNOWN_DEVICES_KEPT + 1))
        .expire(known, this.o.knownDeviceTtlSeconds)
        .exec()
    } catch (err) {
      a.log.error({ err }, 'login success not recorded: Redis unavailable')
    }
  }
}
