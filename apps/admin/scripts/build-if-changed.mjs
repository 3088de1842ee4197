// Builds the dashboard when build/index.html is missing or older than any of its sources (its own files and
// the typed client it bundles). Used by infra/scripts/bootstrap.sh (npm start, npm test) and by the browser test.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const built = path.join(root, 'build/index.html')
const sources = [
  'src', 'static', 'scripts', 'package.json', 'svelte.config.js', 'vite.config.ts', '../../packages/api-client/src'
].map((p) => path.join(root, p))

function newest (p) {
  if (!existsSync(p)) return 0
  const s = statSync(p)
  if (!s.isDirectory()) return s.mtimeMs
  return readdirSync(p).reduce((n, name) => Math.max(n, newest(path.join(p, name))), s.mtimeMs)
}

const stale = !existsSync(built) || sources.some((p) => newest(p) > statSync(built).mtimeMs)
if (stale) {
  process.stderr.write('[admin] building the dashboard (apps/admin)\n')
  const run = spawnSync('pnpm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' })
  if (run.status !== 0) process.exit(run.status ?? 1)
}
