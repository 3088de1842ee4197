// gateway/nginx.conf passes `nginx -t`, both as rendered for local ports and
// as compose mounts it (only the upstream hosts made resolvable here).
import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { nginxBinary, renderNginxConf } from '../src/gateway.js'
import { repoRoot, services } from '../src/services.js'
import { tempDir } from '../src/testing.js'

function nginxTest (confPath: string, prefix: string): { status: number | null, output: string } {
  // A file, not a pipe: the config opens /dev/stdout and /dev/stderr, as in a container.
  const outPath = path.join(prefix, 'nginx-t.out')
  const out = openSync(outPath, 'w')
  try {
    const r = spawnSync(
      nginxBinary(),
      ['-t', '-q', '-p', prefix, '-e', path.join(prefix, 'error.log'), '-c', confPath],
      { stdio: ['ignore', out, out] }
    )
    return { status: r.status, output: readFileSync(outPath, 'utf8') }
  } finally { closeSync(out) }
}

t.test('the rendered local config passes nginx -t', async (t) => {
  const runDir = await tempDir(t, 'holo-nginx-t-')
  await mkdir(path.join(runDir, 'tmp'), { recursive: true })
  const conf = await renderNginxConf({
    port: 18080,
    upstreams: { auth: '127.0.0.1:13001', card: '127.0.0.1:13002', file: '127.0.0.1:13003' },
    runDir
  })
  const confPath = path.join(runDir, 'nginx.conf')
  await writeFile(confPath, conf)
  const r = nginxTest(confPath, runDir)
  t.equal(r.status, 0, r.output)
})

/** The compose host names of the services' upstreams. */
const HOSTS = new RegExp(`server (${services.map((s) => s.name).join('|')}):(\\d+)`, 'g')

t.test('the original file passes nginx -t with the compose hosts resolvable', async (t) => {
  const dir = await tempDir(t, 'holo-nginx-t-')
  const original = await readFile(path.join(repoRoot, 'gateway/nginx.conf'), 'utf8')
  // Only the hosts change: compose's service names do not resolve outside compose.
  const conf = original.replace(HOSTS, 'server 127.0.0.1:$2')
  t.equal([...original.matchAll(HOSTS)].length, services.length, 'an upstream host per service')
  const confPath = path.join(dir, 'nginx.conf')
  await writeFile(confPath, conf)
  const r = nginxTest(confPath, dir)
  t.equal(r.status, 0, r.output)
})

t.test('nginx -t does catch a broken config', async (t) => {
  const dir = await tempDir(t, 'holo-nginx-t-')
  const original = await readFile(path.join(repoRoot, 'gateway/nginx.conf'), 'utf8')
  const confPath = path.join(dir, 'nginx.conf')
  await writeFile(confPath, original
    .replace(HOSTS, 'server 127.0.0.1:$2')
    .replace('proxy_pass http://card_service;', 'proxy_pass http://card_service'))
  t.not(nginxTest(confPath, dir).status, 0)
})

t.test('trusted proxies are rendered as set_real_ip_from lines, and the result passes nginx -t', async (t) => {
  const runDir = await tempDir(t, 'holo-nginx-t-')
  await mkdir(path.join(runDir, 'tmp'), { recursive: true })
  const upstreams = { auth: '127.0.0.1:13001', card: '127.0.0.1:13002', file: '127.0.0.1:13003' }
  const settings = { port: 18080, upstreams, runDir }
  const conf = await renderNginxConf({ ...settings, trustedProxies: ['10.0.0.0/8', '127.0.0.1', 'fd00::/8'] })
  t.ok(conf.includes('  set_real_ip_from 10.0.0.0/8;\n  set_real_ip_from 127.0.0.1;\n  set_real_ip_from fd00::/8;\n'))
  const confPath = path.join(runDir, 'nginx.conf')
  await writeFile(confPath, conf)
  const r = nginxTest(confPath, runDir)
  t.equal(r.status, 0, r.output)
  const none = await renderNginxConf(settings)
  t.notMatch(none, /^\s*set_real_ip_from/m, 'none by default')
  t.notOk(none.includes(path.join(repoRoot, 'gateway')), 'nginx never reads the checkout (it may be private)')
  for (const bad of ['10.0.0.0/33', '300.1.1.1', 'localhost', '1.2.3.4;', '1.2.3.4/8/8', '']) {
    await t.rejects(renderNginxConf({ ...settings, trustedProxies: [bad] }), /trustedProxies/, JSON.stringify(bad))
  }
})

t.test('as compose mounts it: a client picks neither its address nor the redirect host', async (t) => {
  const conf = await readFile(path.join(repoRoot, 'gateway/nginx.conf'), 'utf8')
  const active = conf.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => l !== '')
  t.ok(active.includes('proxy_set_header X-Forwarded-For $remote_addr;'), 'X-Forwarded-For is overwritten')
  t.ok(active.includes('proxy_set_header X-Real-IP $remote_addr;'), 'X-Real-IP is overwritten')
  t.notOk(conf.includes('$proxy_add_x_forwarded_for'), 'never appended to')
  t.same(active.filter((l) => l.startsWith('set_real_ip_from')), [], 'no proxy is trusted by default')
  t.ok(active.includes('real_ip_recursive on;'), 'the rightmost untrusted address, once proxies are listed')
  t.ok(active.includes('absolute_redirect off;'), 'relative Location headers')
  t.same(active.filter((l) => /^user\s/.test(l)), [], 'no user directive: the image\'s default worker user')
})

t.test('every status nginx answers itself has a complete problem page', async (t) => {
  const conf = await readFile(path.join(repoRoot, 'gateway/nginx.conf'), 'utf8')
  const statuses = new Set<string>()
  for (const m of conf.matchAll(/^\s*error_page ([^;]+);/gm)) {
    const words = (m[1] ?? '').split(/\s+/)
    const target = words.pop()
    t.equal(target, '$holo_problem_page', `${m[0].trim()}: the problem page`)
    const overwrite = words.find((w) => w.startsWith('='))
    for (const w of words.filter((w) => /^\d{3}$/.test(w))) statuses.add(overwrite?.slice(1) ?? w)
  }
  t.ok(statuses.has('404') && statuses.has('431') && statuses.has('405'), `statuses: ${[...statuses].join(' ')}`)
  const mapOf = (name: string): Map<string, string> => {
    const block = new RegExp(`map \\$status \\$${name} \\{\\n([^}]*)\\}`).exec(conf)?.[1] ?? ''
    return new Map([...block.matchAll(/^\s*(\S+)\s+"?([^";]*)"?;/gm)].map((e) => [e[1] ?? '', e[2] ?? '']))
  }
  const [code, type, title, detail] = ['code', 'type', 'title', 'detail'].map((n) => mapOf(`holo_problem_${n}`))
  for (const s of statuses) {
    if (s === '500') continue // the maps' default
    t.ok(code?.has(s) && type?.has(s) && title?.has(s) && detail?.has(s), `${s}: code, type, title and detail`)
    t.equal(type?.get(s), code?.get(s)?.toLowerCase().replace(/_/g, '-'), `${s}: the type follows the code`)
  }
  t.equal(code?.get('default'), 'INTERNAL')
  t.equal(type?.get('default'), 'internal')
})
