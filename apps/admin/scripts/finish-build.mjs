// After `vite build`: (1) the fallback page's inline bootstrap script moves to a hashed file, so the gateway's
// Content-Security-Policy can say `script-src 'self'` with no hash to keep in step with each build;
// (2) the JavaScript a first visit to the overview loads is measured (gzipped) against the 200 KiB budget,
// printed, and written to build/_app/first-load.json.
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const build = path.join(root, 'build')
const BASE = '/admin/'
const BUDGET_KIB = 200

const indexPath = path.join(build, 'index.html')
let html = readFileSync(indexPath, 'utf8')
const inline = /<script>([\s\S]*?)<\/script>/.exec(html)
if (inline === null) throw new Error('build/index.html: no inline bootstrap script found (SvelteKit changed its output?)')
const code = inline[1].trim() + '\n'
const bootFile = `_app/immutable/entry/boot.${createHash('sha256').update(code).digest('hex').slice(0, 10)}.js`
writeFileSync(path.join(build, bootFile), code)
// A classic (non-module) script: document.currentScript, which the bootstrap uses, still points at it.
html = html.replace(inline[0], `<script src="${BASE}${bootFile}"></script>`)
if (/<script>/.test(html) || /\sstyle="/.test(html)) throw new Error('build/index.html still has inline script or style')
writeFileSync(indexPath, html)

// Inline style attributes in the bundles (SvelteKit's route announcer) are allowed by hash ('unsafe-hashes'):
// the gateway's policy must list each, so a SvelteKit upgrade that changes one fails here, not silently in a browser.
const styleHashes = new Set()
const walk = (dir) => {
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, name.name)
    if (name.isDirectory()) walk(p)
    else if (name.name.endsWith('.js')) {
      for (const m of readFileSync(p, 'utf8').matchAll(/style="([^"]*)"/g)) {
        styleHashes.add(`'sha256-${createHash('sha256').update(m[1]).digest('base64')}'`)
      }
    }
  }
}
walk(path.join(build, '_app/immutable'))
const nginxConf = readFileSync(path.join(root, '../../gateway/nginx.conf'), 'utf8')
const policy = /location \/admin\/ \{[\s\S]*?Content-Security-Policy "([^"]*)"/.exec(nginxConf)?.[1] ?? ''
const missing = [...styleHashes].filter((h) => !policy.includes(h))
if (missing.length > 0) {
  process.stderr.write(`[admin] gateway/nginx.conf's /admin/ policy must allow these inline styles: ${missing.join(' ')}\n`)
  process.exit(1)
}

// The overview's first load: kit's two entries, the root layout, the overview page and everything they import.
const manifest = JSON.parse(readFileSync(path.join(root, '.svelte-kit/output/client/.vite/manifest.json'), 'utf8'))
const nodeOf = (component) => {
  for (const [key, chunk] of Object.entries(manifest)) {
    if (!key.includes('/nodes/')) continue
    const source = readFileSync(path.join(root, key), 'utf8')
    if (source.includes(`/${component}"`)) return chunk
  }
  throw new Error(`no node imports ${component}`)
}
const roots = [
  ...Object.values(manifest).filter((c) => c.isEntry && c.file.includes('/entry/')),
  nodeOf('src/routes/+layout.svelte'),
  nodeOf('src/routes/+page.svelte')
]
const files = new Set([bootFile])
const css = new Set()
const visit = (chunk) => {
  if (files.has(chunk.file)) return
  files.add(chunk.file)
  for (const c of chunk.css ?? []) css.add(c)
  for (const i of chunk.imports ?? []) visit(manifest[i])
}
roots.forEach(visit)
const gz = (file) => gzipSync(readFileSync(path.join(build, file)), { level: 9 }).length
const js = [...files].reduce((n, f) => n + gz(f), 0)
const styles = [...css].reduce((n, f) => n + gz(f), 0)
const report = {
  jsFiles: files.size,
  jsGzipBytes: js,
  cssGzipBytes: styles,
  budgetKiB: BUDGET_KIB,
  withinBudget: js <= BUDGET_KIB * 1024
}
writeFileSync(path.join(build, '_app/first-load.json'), JSON.stringify(report, null, 2) + '\n')
const kib = (n) => (n / 1024).toFixed(1)
process.stdout.write(`[admin] first-load JavaScript: ${kib(js)} KiB gzipped in ${files.size} files ` +
  `(budget ${BUDGET_KIB} KiB), CSS ${kib(styles)} KiB gzipped\n`)
if (!report.withinBudget) {
  process.stderr.write(`[admin] over the first-load budget of ${BUDGET_KIB} KiB\n`)
  process.exit(1)
}
