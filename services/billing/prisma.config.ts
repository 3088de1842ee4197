import { defineConfig } from 'prisma/config'

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  // Only `migrate` needs it; generate runs without a database.
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://holo_billing@127.0.0.1:5432/holo' }
})
