// What can be checked of the container setup without Docker: docker-compose.yml
// is valid against the Compose specification, wires the stack as intended and
// holds no secret; every Dockerfile copies only files that exist; Prometheus
// scrapes each compose service.
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { parse } from 'yaml'
import { repoRoot, services } from '../src/services.js'

interface ComposeService {
  image?: string
  build?: { context: string, dockerfile: string, args?: Record<string, string> }
  command?: string[]
  environment?: Record<string, string>
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
  volumes?: string[]
  ports?: string[]
  profiles?: string[]
}
interface Compose { services: Record<string, ComposeService>, volumes?: Record<string, unknown> }

const composeText = await readFile(path.join(repoRoot, 'docker-compose.yml'), 'utf8')
const compose = parse(composeText, { merge: true }) as Compose
const svc = (name: string): ComposeService => compose.services[name] ?? {}

t.test('docker-compose.yml is valid against the Compose specification schema', async (t) => {
  // The schema as shipped by the dclint package (a copy of compose-spec/compose-spec's schema/compose-spec.json).
  const require = createRequire(import.meta.url)
  const schemaPath = path.join(path.dirname(require.resolve('dclint/package.json')), 'schemas/compose.schema.json')
  const schema = JSON.parse(await readFile(schemaPath, 'utf8')) as Record<string, unknown>
  t.equal(schema.title, 'Compose Specification')
  // It names draft-07 by an https URL that Ajv (which ships draft-07) does not know by that name.
  delete schema.$schema
  const ajv = new Ajv({ allErrors: true, strict: false })
  const addFormats = addFormatsModule as unknown as (a: Ajv) => Ajv
  addFormats(ajv)
  const validate = ajv.compile(schema)
  t.ok(validate(compose), `valid: ${ajv.errorsText(validate.errors)}`)
  t.notOk(
    validate({ services: { x: { image: 'a', depends_on: { y: { condition: 'service_maybe' } } } } }),
    'the schema does reject a bad file'
  )
})

t.test('the stack: images, one-shot migrate, healthchecks and start order', async (t) => {
  t.same(
    Object.keys(compose.services).sort(),
    ['analytics', 'audit', 'auth', 'billing', 'card', 'file', 'gateway', 'maildev', 'migrate', 'minio', 'notification',
      'postgres', 'prometheus', 'redis']
  )
  t.match(svc('postgres').image, /^postgres:16(\b|-)/)
  t.match(svc('redis').image, /^redis:7(\b|-)/)
  t.match(
    await readFile(path.join(repoRoot, svc('gateway').build?.dockerfile ?? ''), 'utf8'),
    /^FROM nginx:1\.27(\b|-)/m,
    'the gateway runs nginx 1.27'
  )
  t.match(svc('maildev').image, /^maildev\/maildev:/)
  t.match(svc('minio').image, /^minio\/minio:/)
  t.ok(
    svc('gateway').volumes?.includes('./gateway/nginx.conf:/etc/nginx/nginx.conf:ro'),
    'nginx runs gateway/nginx.conf as is'
  )
  t.match(
    svc('migrate').environment?.DATABASE_ADMIN_URL ?? '',
    /^postgresql:\/\/postgres:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgres:5432\/holo$/
  )
  t.same(svc('migrate').depends_on, { postgres: { condition: 'service_healthy' } })

  for (const [name, s] of Object.entries(compose.services)) {
    for (const dep of Object.keys(s.depends_on ?? {})) {
      t.ok(dep in compose.services, `${name} depends on ${dep}, which exists`)
    }
    if (s.build !== undefined) {
      t.equal(s.build.context, '.', `${name} builds from the repository root`)
      t.ok(existsSync(path.join(repoRoot, s.build.dockerfile)), `${name}: ${s.build.dockerfile} exists`)
    }
    for (const v of s.volumes ?? []) {
      const host = v.split(':')[0] as string
      if (host.startsWith('./')) t.ok(existsSync(path.join(repoRoot, host)), `${name} mounts ${host}, which exists`)
      else t.ok(compose.volumes !== undefined && host in compose.volumes, `${name}: volume ${host} is declared`)
    }
  }
  for (const name of ['postgres', 'redis', 'minio', 'gateway']) t.ok(svc(name).healthcheck, `${name} has a healthcheck`)
  for (const s of services) {
    const c = svc(s.name)
    t.equal(c.build?.dockerfile, 'infra/compose/service.Dockerfile')
    t.same(c.build?.args, { SERVICE: s.name, PORT: String(s.port) }, `${s.name} is built for its own folder and port`)
    t.equal(
      c.depends_on?.migrate?.condition,
      'service_completed_successfully',
      `${s.name} starts after migrate succeeded`
    )
    t.equal(c.depends_on?.redis?.condition, 'service_healthy')
    t.match(c.healthcheck?.test.join(' ') ?? '', `127.0.0.1:${s.port}/health/ready`, `${s.name} is healthy when ready`)
    t.equal(svc('gateway').depends_on?.[s.name]?.condition, 'service_healthy', `the gateway waits for ${s.name}`)
    const env = c.environment ?? {}
    t.equal(env.HOST, '0.0.0.0', `${s.name} listens on every interface`)
    t.equal(env.PORT, String(s.port))
    t.equal(env.NODE_ENV, 'production')
    t.match(
      env.DATABASE_URL,
      new RegExp(`^postgresql://${s.role}:\\$\\{${s.name.toUpperCase()}_DB_PASSWORD:\\?[^}]*\\}@postgres:5432/holo$`),
      `${s.name} connects as ${s.role}`
    )
    t.equal(env.REDIS_URL, 'redis://redis:6379')
  }
  t.equal(svc('auth').environment?.SMTP_URL, 'smtp://maildev:1025')
  for (const name of ['card', 'file']) {
    t.equal(svc(name).environment?.AUTH_JWKS_URL, 'http://auth:3001/api/v1/auth/.well-known/jwks.json')
  }
  t.equal(svc('file').environment?.S3_ENDPOINT, 'http://minio:9000')
  t.equal(svc('file').depends_on?.minio?.condition, 'service_healthy')
})

t.test('no secret is committed: every secret comes from ${VAR:?...}', async (t) => {
  for (const [name, s] of Object.entries(compose.services)) {
    for (const [key, value] of Object.entries(s.environment ?? {})) {
      const secretish = /PASSWORD|SECRET|SIGNING_KEYS|ACCESS_KEY|ROOT_USER/.test(key)
      if (secretish) t.match(value, /^\$\{[A-Z0-9_]+:\?[^}]*\}$/, `${name}.${key} is required from the environment`)
      for (const m of value.matchAll(/:\/\/[^:@/]+:([^@]+)@/g)) {
        t.match(m[1], /^\$\{[A-Z0-9_]+:\?[^}]*\}$/, `${name}.${key}: the URL's password comes from the environment`)
      }
    }
  }
})

t.test('with the values of infra/compose/env.example, each service accepts its compose environment', async (t) => {
  const example = Object.fromEntries((await readFile(path.join(repoRoot, 'infra/compose/env.example'), 'utf8'))
    .split('\n')
    .filter((l) => /^[A-Z0-9_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  const used = new Set([...composeText.split('\n').filter((l) => !l.trim().startsWith('#')).join('\n')
    .matchAll(/\$\{([A-Z0-9_]+)[:?-]/g)].map((m) => m[1] as string))
  for (const v of used) t.ok(v in example, `${v} is documented in env.example`)
  const interpolate = (v: string): string =>
    v.replace(/\$\{([A-Z0-9_]+)(:[?-][^}]*)?\}/g, (_m, name: string, rest?: string) =>
      example[name] ?? (rest?.startsWith(':-') === true ? rest.slice(2) : ''))
  for (const s of services) {
    const env = Object.fromEntries(Object.entries(svc(s.name).environment ?? {}).map(([k, v]) => [k, interpolate(v)]))
    const mod = await import(pathToFileURL(path.join(s.dir, 'src/config.ts')).href) as {
      EnvSchema: { properties: Record<string, unknown> }
      loadConfig: (env: Record<string, string | undefined>) => unknown
    }
    for (const key of Object.keys(env)) t.ok(key in mod.EnvSchema.properties, `${s.name} reads ${key}`)
    t.doesNotThrow(() => mod.loadConfig(env), `${s.name}'s production config accepts the compose environment`)
  }
})

/** Dockerfile instructions, continuation lines joined. */
function instructions (text: string): Array<{ op: string, args: string }> {
  return text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => { const [op = '', ...rest] = l.split(/\s+/); return { op: op.toUpperCase(), args: rest.join(' ') } })
}

const SERVICE_DOCKERFILE = 'infra/compose/service.Dockerfile'
/** Each image as built: a Dockerfile and the build args it is given (the service image once per service). */
const images: Array<{ file: string, args: Record<string, string> }> = [
  ...services.map((s) => ({ file: SERVICE_DOCKERFILE, args: { SERVICE: s.name, PORT: String(s.port) } })),
  { file: 'infra/compose/migrate.Dockerfile', args: {} },
  { file: 'infra/compose/gateway.Dockerfile', args: {} }
]
for (const { file, args } of images) {
  const label = args.SERVICE === undefined ? file : `${file} (SERVICE=${args.SERVICE})`
  t.test(`${label}: every COPY source exists and the stages hang together`, async (t) => {
    const text = (await readFile(path.join(repoRoot, file), 'utf8'))
      .replace(/\$\{(\w+)\}/g, (whole, name: string) => args[name] ?? whole)
    const ins = instructions(text)
    const stages = ins.filter((i) => i.op === 'FROM')
      .map((i) => /\bAS\s+(\S+)/i.exec(i.args)?.[1])
      .filter((s): s is string => s !== undefined)
    let copies = 0
    for (const i of ins.filter((x) => x.op === 'COPY' || x.op === 'ADD')) {
      const words = i.args.split(/\s+/)
      const flags = words.filter((w) => w.startsWith('--'))
      const paths = words.filter((w) => !w.startsWith('--'))
      const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length)
      if (from !== undefined) { t.ok(stages.includes(from), `COPY --from=${from} names a stage`); continue }
      for (const src of paths.slice(0, -1)) {
        copies++
        t.ok(existsSync(path.join(repoRoot, src)), `${src} exists`)
      }
    }
    t.ok(copies > 0, 'copies files from the repository')
    t.ok(existsSync(path.join(repoRoot, `${file}.dockerignore`)), 'has its own .dockerignore')
    const final = ins.slice(ins.map((i) => i.op).lastIndexOf('FROM'))
    const user = final.filter((i) => i.op === 'USER').at(-1)?.args
    if (file === 'infra/compose/gateway.Dockerfile') {
      // nginx's master stays root as in the official image; its workers drop to nobody.
      for (const m of (await readFile(path.join(repoRoot, 'gateway/nginx.conf'), 'utf8'))
        .matchAll(/(?:alias|root) (\/usr\/share\/holo\/[^;]+?)\/?;/g)) {
        t.ok(
          final.some((i) => i.op === 'COPY' && i.args.split(/\s+/).at(-1)?.replace(/\/$/, '') === m[1]),
          `the image provides ${m[1] ?? ''}, which nginx.conf serves`
        )
      }
    } else {
      t.ok(
        user !== undefined && user !== 'root' && user !== '0',
        `the final stage runs as a non-root user (${user ?? 'none'})`
      )
    }
    if (file === SERVICE_DOCKERFILE) {
      const s = services.find((x) => x.name === args.SERVICE)
      t.match(final.find((i) => i.op === 'HEALTHCHECK')?.args ?? '', '/health/ready', 'HEALTHCHECK on readiness')
      t.match(final.find((i) => i.op === 'ENV')?.args ?? '', /HOST=0\.0\.0\.0/, 'HOST=0.0.0.0')
      t.match(final.find((i) => i.op === 'EXPOSE')?.args, String(s?.port))
      t.match(
        final.find((i) => i.op === 'CMD')?.args ?? '',
        /"node", "dist\/server\.js"/,
        'runs compiled dist/, not TypeScript'
      )
      t.notOk(
        final.some((i) => (i.op === 'COPY' || i.op === 'ADD') && !i.args.includes('--from=')),
        'the runtime stage takes only built output'
      )
      t.match(
        ins.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n'),
        /generate/,
        'generates the Prisma client'
      )
      t.match(
        ins.filter((i) => i.op === 'ENV').map((i) => i.args).join('\n'),
        /PRISMA_SCHEMA_ENGINE_BINARY=/,
        'without downloading the schema engine'
      )
    }
  })
}

t.test('Prometheus scrapes /metrics of each compose service', async (t) => {
  const prom = parse(await readFile(path.join(repoRoot, 'infra/prometheus/prometheus.yml'), 'utf8')) as {
    scrape_configs: Array<{ job_name: string, metrics_path?: string, static_configs: Array<{ targets: string[] }> }>
  }
  const targets = prom.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) =>
    s.targets.map((target) => ({ target, path: c.metrics_path ?? '/metrics' }))))
  for (const s of services) {
    t.same(
      targets.filter((x) => x.target === `${s.name}:${s.port}`),
      [{ target: `${s.name}:${s.port}`, path: '/metrics' }],
      `${s.name}:${s.port}/metrics`
    )
  }
  for (const x of targets) {
    t.ok(x.target.split(':')[0] as string in compose.services, `${x.target} is a compose service`)
  }
  t.ok(
    svc('prometheus').volumes?.includes('./infra/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro'),
    'compose mounts it'
  )
})
