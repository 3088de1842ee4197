// Sends queued mail once the effects that queued it committed. Security mail goes one notification a mail,
// at once. Other types go one mail per user and type at most every NOTIFICATIONS_EMAIL_GATHER_SECONDS: the
// first at once, the rest gathered into one mail when the period ends. A commit that makes mail due wakes the
// job; a poll finds gathered mail coming due (and mail of instances that died).
import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import type { NotificationMetrics } from '../../metrics.js'
import { escapeHtml } from '../ingest/ingest.texts.js'
import { isSecurityType, type NotificationType } from '../notifications/notifications.types.js'
import type { Mailer, OutgoingMail } from './emails.mailer.js'
import { EmailsRepository, type DueSchedule, type QueuedMail } from './emails.repository.js'
import type { UnsubscribeTokens } from './emails.unsubscribe.js'

export const UNSUBSCRIBE_PATH = '/api/v1/notifications/unsubscribe'
const RETRY_SECONDS = 60

export interface EmailJobOptions {
  pool: pg.Pool
  mailer: Mailer
  tokens: UnsubscribeTokens
  publicUrl: string
  counters: NotificationMetrics
  log: FastifyBaseLogger
}

const TYPE_NOUNS: Record<NotificationType, string> = {
  welcome: 'welcome messages',
  'card.liked': 'likes of your cards',
  'collection.card_added': 'your cards added to collections',
  'card.hidden': 'your cards hidden by moderators',
  'card.unhidden': 'your cards visible again',
  'card.warned': 'moderators\' warnings about your cards',
  'report.resolved': 'your reports reviewed by moderators',
  'template.archived': 'archived templates',
  'security.new_login': 'new sign-ins',
  'security.password_changed': 'password changes',
  'security.password_reset': 'password resets',
  'security.email_verified': 'verified addresses',
  'security.session_revoked': 'ended sessions',
  'security.roles_changed': 'role changes'
}

/** An SMTP server's permanent refusal (5xx) of the recipient at RCPT TO, as nodemailer reports it. */
function refusedRecipient (err: unknown): err is { response?: string } {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { code?: unknown, command?: unknown, responseCode?: unknown }
  return e.code === 'EENVELOPE' && e.command === 'RCPT TO' && typeof e.responseCode === 'number' &&
    e.responseCode >= 500 && e.responseCode < 600
}

export class EmailJob {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<number> | undefined
  private again = false
  private stopped = false

  constructor (private readonly o: EmailJobOptions) {}

  /** Polls every `everyMs` (0: only wake-ups). */
  start (everyMs: number): this {
    if (everyMs > 0) {
      this.timer = setInterval(() => { this.wake() }, everyMs)
      this.timer.unref()
    }
    return this
  }

  /** Runs a pass soon (coalesced: a wake during a pass runs one more pass after it). */
  wake (): void {
    if (this.stopped) return
    if (this.running !== undefined) { this.again = true; return }
    this.running = this.tick()
      .catch((err: unknown) => { this.o.log.warn({ err }, 'email pass failed; will try again'); return 0 })
      .finally(() => {
        this.running = undefined
        if (this.again) { this.again = false; this.wake() }
      })
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    await this.running
  }

  /** One pass: sends every mail due now. Returns how many mails went. */
  async tick (maxSchedules = 500): Promise<number> {
    let sent = 0
    for (let i = 0; i < maxSchedules; i++) {
      const client = await this.o.pool.connect()
      let broken = false
      let schedule: DueSchedule | null = null
      try {
        await client.query('BEGIN')
        const repo = new EmailsRepository(client)
        schedule = await repo.lockDue()
        if (schedule === null) {
          await client.query('COMMIT')
          break
        }
        sent += await this.sendSchedule(repo, schedule)
        await client.query('COMMIT')
      } catch (err) {
        await client.query('ROLLBACK').catch(() => { broken = true })
        if (schedule === null) throw err
        this.o.log.warn({ err, userId: schedule.userId, type: schedule.type }, 'mail could not be sent; retrying later')
        await EmailsRepository.postpone(this.o.pool, schedule, RETRY_SECONDS)
      } finally {
        client.release(broken)
      }
    }
    return sent
  }

  private async sendSchedule (repo: EmailsRepository, s: DueSchedule): Promise<number> {
    const items = await repo.items(s)
    const ids = items.map((m) => m.id)
    if (items.length === 0) { await repo.done(s, ids, false); return 0 }
    const to = await repo.address(s.userId)
    if (to === null || !await repo.emailOn(s)) {
      this.o.log.info({ userId: s.userId, type: s.type, count: items.length },
        to === null ? 'no address known for this user: mail dropped' : 'mail of this type is off: dropped')
      await repo.done(s, ids, false)
      return 0
    }
    // Security mail goes one message per transaction: a failure later on never sends an earlier one
    // again (the rest of the schedule stays due at once and the same pass takes it next).
    const security = isSecurityType(s.type)
    const first = items[0] as QueuedMail
    const mail = security || items.length === 1
      ? this.single(to, first, security ? undefined : s)
      : this.digest(to, items, s)
    try {
      await this.o.mailer.send(mail)
    } catch (err) {
      if (!refusedRecipient(err)) throw err
      // The server refused the address itself for good: sending again cannot succeed, so this mail is dropped
      // (a server that is down or refuses our login is not this, and is tried again).
      this.o.log.warn({ userId: s.userId, type: s.type, count: items.length, response: err.response },
        'the mail server refused this user\'s address for good: mail dropped')
      await repo.done(s, ids, false)
      return 0
    }
    const kind = !security && items.length > 1 ? 'digest' : 'single'
    this.o.counters.emailsSent.inc({ type: s.type, kind })
    if (kind === 'digest') this.o.counters.emailsGathered.inc({ type: s.type }, items.length)
    await repo.done(s, security ? [first.id] : ids, true)
    return 1
  }

  private single (to: string, m: QueuedMail, unsubscribe?: DueSchedule): OutgoingMail {
    return this.withFooter({ to, subject: m.subject, text: m.text, html: m.html }, unsubscribe)
  }

  private digest (to: string, items: QueuedMail[], s: DueSchedule): OutgoingMail {
    const subject = `${items.length} new notifications: ${TYPE_NOUNS[s.type]}`
    return this.withFooter({
      to,
      subject,
      text: `${subject}\n\n${items.map((m) => m.text).join('\n\n')}`,
      html: `<p><strong>${escapeHtml(subject)}</strong></p><hr>${items.map((m) => m.html).join('<hr>')}`
    }, s)
  }

  /** Wraps the body in a page; non-security mail gets its unsubscribe link and the RFC 8058 headers. */
  private withFooter (mail: OutgoingMail, s?: DueSchedule): OutgoingMail {
    const open = '<!doctype html><html><body style="font-family: sans-serif">'
    if (s === undefined) return { ...mail, html: `${open}${mail.html}</body></html>` }
    const url = `${this.o.publicUrl}${UNSUBSCRIBE_PATH}?token=${this.o.tokens.sign(s.userId, s.type)}`
    return {
      ...mail,
      text: `${mail.text}\n\n--\nYou get this because mail about ${TYPE_NOUNS[s.type]} is on.` +
        `\nUnsubscribe: ${url}\n`,
      html: `${open}${mail.html}<hr><p style="font-size: small">You get this because mail about ` +
        `${escapeHtml(TYPE_NOUNS[s.type])} is on. <a href="${escapeHtml(url)}">Unsubscribe</a></p></body></html>`,
      headers: { 'List-Unsubscribe': `<${url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' }
    }
  }
}
