// The committed typed client must be what the services' routes generate now:
// a route change without `pnpm --filter @holo/api-client generate` fails here.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createHoloClient } from '@holo/api-client'
import { SERVICES, buildService, generate } from '../../packages/api-client/scripts/documents.js'

const clientDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../packages/api-client')

for (const name of SERVICES) {
  t.test(`${name}: committed OpenAPI document and types match the routes`, async (t) => {
    const fresh = await generate(name)
    const json = await readFile(path.join(clientDir, 'openapi', `${name}.json`), 'utf8')
    const ts = await readFile(path.join(clientDir, 'src', `${name}.ts`), 'utf8')
    const hint = 'run `pnpm --filter @holo/api-client generate` and commit the result'
    t.ok(json === fresh.json, `openapi/${name}.json is current (${hint})`)
    t.ok(ts === fresh.ts, `src/${name}.ts is current (${hint})`)
  })
}

t.test('createHoloClient talks to a real service with typed paths', async (t) => {
  const { app, close } = await buildService('auth')
  t.teardown(close)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const client = createHoloClient(`http://127.0.0.1:${port}/`)
  const { data, response } = await client.auth.GET('/api/v1/auth/.well-known/jwks.json')
  t.equal(response.status, 200)
  t.ok(Array.isArray(data?.keys), 'typed JWKS body')

  // Problems come back typed as the error branch, with the bearer token the client was given.
  client.setAccessToken('not-a-valid-token')
  const me = await client.auth.GET('/api/v1/auth/me')
  t.equal(me.response.status, 401)
  t.match(me.error, { status: 401, code: /TOKEN|UNAUTHORIZED/ })
})
