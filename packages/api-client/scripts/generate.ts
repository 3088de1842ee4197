// pnpm --filter @holo/api-client generate: rewrites openapi/*.json and src/<service>.ts.
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { SERVICES, generate } from './documents.js'

const root = fileURLToPath(new URL('..', import.meta.url))
for (const name of SERVICES) {
  const { json, ts } = await generate(name)
  await writeFile(`${root}openapi/${name}.json`, json)
  await writeFile(`${root}src/${name}.ts`, ts)
  process.stdout.write(`${name}: openapi/${name}.json, src/${name}.ts\n`)
}
// Service clients (Redis reconnects, JWKS timers) are closed; nothing should keep the process up.
process.exit(0)
