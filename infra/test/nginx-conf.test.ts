// gateway/nginx.conf passes `nginx -t`, both as rendered for local ports and
// as compose mounts it (only the upstream hosts made resolvable here).
import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { nginxBinary, renderNginxConf } from '../src/gateway.js'
import { repoRoot } from '../src/services.js'
import { tempDir } from '../src/testing.js'

function nginxTest (confPath: string, prefix: string): { status: number | null, output: string } {
  // A file, not a pipe: the config opens /dev/stdout and /dev/stderr, as in a container.
  const outPath = path.join(prefix, 'nginx-t.out')
  const out = openSync(outPath, 'w')
  try {
    const r = spawnSync(nginxBinary(), ['-t', '-q', '-p', prefix, '-e', path.join(prefix, 'error.log'), '-c', confPath], { stdio: ['ignore', out, out] })
    return { status: r.status, output: readFileSync(outPath, 'utf8') }
  } finally { closeSync(out) }
}

t.test('the rendered local config passes nginx -t', async (t) => {
  const runDir = await tempDir(t, 'holo-nginx-t-')
  await mkdir(path.join(runDir, 'tmp'), { recursive: true })
  const conf = await renderNginxConf({ port: 18080, upstreams: { auth: '127.0.0.1:13001', card: '127.0.0.1:13002', file: '127.0.0.1:13003' }, runDir })
  const confPath = path.join(runDir, 'nginx.conf')
  await writeFile(confPath, conf)
  const r = nginxTest(confPath, runDir)
  t.equal(r.status, 0, r.output)
})

t.test('the original file passes nginx -t with the compose hosts resolvable', async (t) => {
  const dir = await tempDir(t, 'holo-nginx-t-')
  const original = await readFile(path.join(repoRoot, 'gateway/nginx.conf'), 'utf8')
  // Only the hosts change: compose's service names do not resolve outside compose.
  const conf = original.replace(/server (auth|card|file):(300[123])/g, 'server 127.0.0.1:$2')
  t.equal([...original.matchAll(/server (auth|card|file):300[123]/g)].length, 3, 'three upstream hosts')
  const confPath = path.join(dir, 'nginx.conf')
  await writeFile(confPath, conf)
  const r = nginxTest(confPath, dir)
  t.equal(r.status, 0, r.output)
})

t.test('nginx -t does catch a broken config', async (t) => {
  const dir = await tempDir(t, 'holo-nginx-t-')
  const original = await readFile(path.join(repoRoot, 'gateway/nginx.conf'), 'utf8')
  const confPath = path.join(dir, 'nginx.conf')
  await writeFile(confPath, original.replace(/server (auth|card|file):(300[123])/g, 'server 127.0.0.1:$2').replace('proxy_pass http://card_service;', 'proxy_pass http://card_service'))
  t.not(nginxTest(confPath, dir).status, 0)
})
