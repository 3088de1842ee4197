// The SMTP side, behind an interface the service owns (nodemailer to SMTP_URL).
import nodemailer, { type Transporter } from 'nodemailer'

export interface OutgoingMail {
  to: string
  subject: string
  text: string
  html: string
  headers?: Record<string, string>
}

export interface Mailer {
  /** Resolves once the SMTP server accepted the mail; throws when it did not. */
  send: (mail: OutgoingMail) => Promise<void>
  close: () => void
}

export function createMailer (smtpUrl: string, from: string): Mailer {
  // Short timeouts: the mail job holds a schedule row locked while it sends, so a hung SMTP server must
  // fail the send (retried later), not stall the job and the consumer waiting on that row.
  const transport: Transporter = nodemailer.createTransport({
    url: smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000
  })
  return {
    send: async (mail) => { await transport.sendMail({ from, ...mail }) },
    close: () => { transport.close() }
  }
}
