// Usage: pnpm --filter @holo/file exec tsx src/cli/clean-orphans.ts [--dry-run] [--grace-minutes=60]
// Reads the service's own env (DATABASE_URL, S3_*, FILE_TEMP_DIR) and prints a JSON report.
import { parseArgs } from 'node:util'
import { ConfigError, pgAdapter } from '@holo/shared'
import { loadConfig, uploadTempDir } from '../config.js'
import { PrismaClient } from '../generated/prisma/client.js'
import { FilesRepository } from '../modules/files/files.repository.js'
import { cleanOrphans } from '../modules/files/orphans.js'
import { S3ObjectStore, createS3 } from '../storage/s3-object-store.js'

const { values } = parseArgs({
  options: {
    'dry-run': { type: 'boolean', default: false },
    'grace-minutes': { type: 'string', default: '60' }
  }
})
const graceMinutes = Number(values['grace-minutes'])
if (!Number.isFinite(graceMinutes) || graceMinutes < 0) {
  process.stderr.write('--grace-minutes must be a number of minutes, 0 or more\n')
  process.exit(2)
}

let config
try {
  config = loadConfig(process.env)
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`)
    process.exit(2)
  }
  throw err
}
// A plain client: no relay runs here and nothing wakes one. The `file.deleted`
// events this writes wait in the outbox until a file service instance's relay
// finds them on its safety poll (EVENTS_RELAY_POLL_MS, 1 s by default), which
// is prompt enough for a batch job.
const prisma = new PrismaClient({ adapter: pgAdapter(config) })
try {
  const report = await cleanOrphans({
    repo: new FilesRepository(prisma, config.DATABASE_SCHEMA),
    store: new S3ObjectStore(createS3(config), config.S3_BUCKET, config.S3_REGION),
    tempDir: uploadTempDir(config),
    dryRun: values['dry-run'],
    graceMs: graceMinutes * 60_000
  })
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
} catch (err) {
  process.stderr.write(`clean-orphans failed: ${(err as Error).message}\n`)
  process.exitCode = 1
} finally {
  await prisma.$disconnect()
}
