import nodemailer, { type Transporter } from 'nodemailer'
import type { FastifyBaseLogger } from 'fastify'

export interface Mail { to: string, subject: string, text: string }

export interface Mailer {
  /** Sends in the background: callers never wait on SMTP (no timing oracle, no slow responses). */
  send: (mail: Mail, log: FastifyBaseLogger) => void
  /** Resolves when every mail sent so far has been handed over (or failed). */
  drain: () => Promise<void>
  close: () => void
}

export function createMailer (smtpUrl: string, from: string): Mailer {
  const transport: Transporter = nodemailer.createTransport(smtpUrl)
  const pending = new Set<Promise<void>>()
  return {
    send (mail, log) {
      const p = transport.sendMail({ from, ...mail })
        .then(() => { log.debug({ subject: mail.subject }, 'mail sent') })
        .catch((err: unknown) => { log.error({ err, subject: mail.subject }, 'mail could not be sent') })
        .finally(() => pending.delete(p))
      pending.add(p)
    },
    drain: async () => { await Promise.allSettled([...pending]) },
    close: () => { transport.close() }
  }
}
