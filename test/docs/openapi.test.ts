// Each service's OpenAPI document: valid 3.1 by a real linter (Redocly CLI),
// names the bearer scheme, shows an example for every request body, and is
// what the committed typed client (@holo/api-client) was generated from: a
// route change without `pnpm --filter @holo/api-client generate` fails here.
import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { tempDir } from '@holo/infra/testing'
import { SERVICES, generate, type Generated, type ServiceName } from '../../packages/api-client/scripts/documents.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, '../..')

interface MediaType { schema?: Record<string, unknown>, example?: unknown, examples?: unknown }
type Operation = { requestBody?: { content?: Record<string, MediaType> }, security?: Array<Record<string, unknown>> }
interface Doc {
  openapi: string
  info: { title: string }
  paths: Record<string, Record<string, Operation>>
  components?: { securitySchemes?: Record<string, Record<string, unknown>> }
  security?: unknown[]
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'])

function operations (doc: Doc): Array<[string, Operation]> {
  const out: Array<[string, Operation]> = []
  for (const [p, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      if (METHODS.has(method)) out.push([`${method.toUpperCase()} ${p}`, op])
    }
  }
  return out
}

function hasExample (m: MediaType): boolean {
  const s = m.schema ?? {}
  const examples = s.examples
  return m.example !== undefined ||
    (m.examples !== undefined && Object.keys(m.examples as object).length > 0) ||
    s.example !== undefined ||
    (Array.isArray(examples) && examples.length > 0)
}

/** Operations whose request body (any media type) shows no example. */
export function bodiesWithoutExamples (doc: Doc): string[] {
  const missing: string[] = []
  for (const [name, op] of operations(doc)) {
    for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
      if (!hasExample(media)) missing.push(`${name} (${type})`)
    }
  }
  return missing
}

interface LintProblem { ruleId: string, severity: string, message: string, location?: Array<{ pointer?: string }> }

async function redoclyLint (files: string[]): Promise<LintProblem[]> {
  const bin = path.join(repoRoot, 'node_modules/.bin/redocly')
  const child = spawn(bin, ['lint', '--config', path.join(here, 'redocly.yaml'), '--format=json', ...files], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' }
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.resume()
  await new Promise((resolve) => child.on('close', resolve))
  // One JSON report per file, written back to back: `}{` separates them.
  const start = out.indexOf('{')
  const reports = JSON.parse(`[${out.slice(start).trim().replace(/\n\}\{/g, '\n},{')}]`) as Array<{
    totals: { errors: number }
    problems: LintProblem[]
  }>
  if (reports.length !== files.length) throw new Error(`redocly: ${reports.length} reports for ${files.length} files`)
  return reports.flatMap((r) => r.problems)
}

t.test('the body-example check itself catches a body without an example', async (t) => {
  const doc: Doc = {
    openapi: '3.1.0',
    info: { title: 'x' },
    paths: {
      '/a': { post: { requestBody: { content: { 'application/json': { schema: { type: 'object' } } } } } },
      '/b': {
        post: { requestBody: { content: { 'application/json': { schema: { type: 'object', examples: [{}] } } } } }
      }
    }
  }
  t.same(bodiesWithoutExamples(doc), ['POST /a (application/json)'])
})

const clientDir = path.join(repoRoot, 'packages/api-client')
const generated = new Map<ServiceName, Generated>()
const docs = new Map<ServiceName, Doc>()
t.before(async () => {
  for (const name of SERVICES) {
    const g = await generate(name)
    generated.set(name, g)
    docs.set(name, JSON.parse(g.json) as Doc)
  }
})

for (const name of SERVICES) {
  t.test(`${name}: the committed client is generated from the current routes`, async (t) => {
    const fresh = generated.get(name) as Generated
    const hint = 'run `pnpm --filter @holo/api-client generate` and commit the result'
    t.ok(
      await readFile(path.join(clientDir, 'openapi', `${name}.json`), 'utf8') === fresh.json,
      `openapi/${name}.json is current (${hint})`
    )
    t.ok(
      await readFile(path.join(clientDir, 'src', `${name}.ts`), 'utf8') === fresh.ts,
      `src/${name}.ts is current (${hint})`
    )
  })


  t.test(`${name}: OpenAPI 3.1 with the bearer scheme and examples for every request body`, async (t) => {
    const doc = docs.get(name) as Doc
    t.match(doc.openapi, /^3\.1\.\d+$/)
    t.match(
      doc.components?.securitySchemes?.bearerAuth,
      { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      'bearerAuth declared'
    )
    const ops = operations(doc)
    t.ok(ops.length > 0, `${ops.length} documented operations`)
    const unknownSchemes = ops.flatMap(([op, o]) => (o.security ?? []).flatMap((req) =>
      Object.keys(req).filter((k) => k !== 'bearerAuth').map((k) => `${op}: ${k}`)))
    t.same(unknownSchemes, [], 'operations only name the declared scheme')
    t.same(bodiesWithoutExamples(doc), [], 'every request body has an example')
  })
}

t.test('Redocly CLI lints the three documents without an error', async (t) => {
  const dir = await tempDir(t, 'holo-openapi-')
  const files: string[] = []
  for (const name of SERVICES) {
    const file = path.join(dir, `${name}.json`)
    await writeFile(file, JSON.stringify(docs.get(name)))
    files.push(file)
  }
  // A broken document linted alongside proves the linter runs and fails on real errors.
  const broken = path.join(dir, 'broken.json')
  await writeFile(broken, JSON.stringify({
    openapi: '3.1.0',
    info: { title: 'broken', version: '1' },
    paths: {
      '/things/{id}': {
        get: {
          responses: {
            200: {
              description: 'ok',
              content: {
                'application/json': {
                  schema: { type: 'object', properties: { n: { type: 'integer' } } },
                  example: { n: 'not a number' }
                }
              }
            }
          }
        }
      }
    }
  }))
  const all = await redoclyLint([...files, broken])
  const fromBroken = all.filter((p) => p.severity === 'error' && p.location?.[0]?.pointer !== undefined &&
    JSON.stringify(p).includes('broken.json'))
  t.ok(fromBroken.some((p) => p.ruleId === 'path-parameters-defined'), 'undeclared path parameter caught')
  t.ok(fromBroken.some((p) => p.ruleId === 'no-invalid-media-type-examples'), 'example contradicting its schema caught')
  const problems = all.filter((p) => !JSON.stringify(p).includes('broken.json'))
  const errors = problems.filter((p) => p.severity === 'error')
    .map((p) => `${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer ?? '?'}`)
  t.same(errors, [], 'no lint errors')
  const warnings = problems.filter((p) => p.severity === 'warn')
  if (warnings.length > 0) {
    t.comment(`lint warnings: ${[...new Set(warnings.map((w) => w.ruleId))].join(', ')} (${warnings.length})`)
  }
})
