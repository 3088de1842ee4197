// Services are built (Docker images) against packages/shared/dist, not its
// source: the emitted declarations must carry every type augmentation they use.
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const shared = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

t.test('the emitted auth-plugin.d.ts brings @fastify/jwt\'s request.user typing along', async (t) => {
  const out = await mkdtemp(path.join(tmpdir(), 'holo-shared-dts-'))
  t.teardown(() => rm(out, { recursive: true, force: true }))
  const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin/tsc')
  // Only this file and what it imports, with the package's compiler settings.
  const r = spawnSync(process.execPath, [
    tsc, path.join(shared, 'src/auth/auth-plugin.ts'), '--declaration', '--emitDeclarationOnly', '--outDir', out,
    '--rootDir', path.join(shared, 'src'), '--module', 'NodeNext', '--moduleResolution', 'NodeNext',
    '--target', 'ES2022', '--strict', '--skipLibCheck',
    '--esModuleInterop', '--verbatimModuleSyntax', '--isolatedModules'
  ], { encoding: 'utf8' })
  t.equal(r.status, 0, `${r.stdout}${r.stderr}`)
  const dts = await readFile(path.join(out, 'auth/auth-plugin.d.ts'), 'utf8')
  t.match(dts, /\/\/\/ <reference types="@fastify\/jwt"/, 'the reference survives emit')
  t.match(dts, /declare module '@fastify\/jwt'/, 'and so does the FastifyJWT augmentation')
})
