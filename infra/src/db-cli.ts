// `pnpm db:bootstrap` / `pnpm db:migrate`: prepares the database named by
// DATABASE_ADMIN_URL (a superuser URL) and applies every service's migrations.
import { bootstrapDatabase, setupDatabase } from './db.js'

const adminUrl = process.env.DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/holo'
const passwords = {
  auth: process.env.AUTH_DB_PASSWORD,
  card: process.env.CARD_DB_PASSWORD,
  file: process.env.FILE_DB_PASSWORD,
  notification: process.env.NOTIFICATION_DB_PASSWORD,
  analytics: process.env.ANALYTICS_DB_PASSWORD,
  audit: process.env.AUDIT_DB_PASSWORD,
  billing: process.env.BILLING_DB_PASSWORD
}
const command = process.argv[2]

try {
  if (command === 'bootstrap') {
    await bootstrapDatabase(adminUrl, passwords)
    console.log('database bootstrapped: roles, schemas and grants are in place')
  } else if (command === 'migrate') {
    for (const r of await setupDatabase(adminUrl, passwords)) {
      const applied = r.applied.length > 0 ? ` (${r.applied.join(', ')})` : ''
      console.log(`${r.service}: ${r.applied.length} applied${applied}, ${r.skipped.length} already applied`)
    }
  } else {
    console.error('usage: db-cli bootstrap|migrate')
    process.exit(2)
  }
} catch (err) {
  console.error(`db ${command ?? ''} failed: ${(err as Error).message}`)
  process.exit(1)
}
