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
  const transport: Transporter = nodemailer.createTransport(smtpUrl)
  return {
    send: async (mail) => { await transport.sendMail({ from, ...mail }) },
    close: () => { transport.close() }
  }
}
