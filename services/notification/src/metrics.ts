// The service's own instruments on app.metrics.
import { Counter, type Registry } from 'prom-client'

export interface NotificationMetrics {
  created: Counter<'type'>
  emailsSent: Counter<'type' | 'kind'>
  emailsGathered: Counter<'type'>
}

export function notificationMetrics (registry: Registry): NotificationMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
      new Counter({ name, help, labelNames, registers: [registry] })
  return {
    created: counter('notifications_created_total', 'Inbox notifications made (a re-id of a collapsed one counts)',
      ['type']),
    emailsSent: counter('notification_emails_sent_total',
      'Mails handed to SMTP, by type and kind (single: one notification; digest: several gathered)', ['type', 'kind']),
    emailsGathered: counter('notification_emails_gathered_total',
      'Notifications mailed in a digest rather than on their own', ['type'])
  }
}
