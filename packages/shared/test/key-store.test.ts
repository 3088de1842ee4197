import { createServer } from 'node:http'
import { generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { freePort } from '@holo/infra/testing'
import { JwksKeyStore } from '../src/index.js'

t.test('a verifier started before the auth service gets its keys soon after auth comes up', async (t) => {
  const port = await freePort()
  const store = new JwksKeyStore({ url: `http://127.0.0.1:${port}/jwks`, retryMs: 200 }).start()
  t.teardown(() => store.stop())

  t.equal(await store.get('k1'), undefined, 'nothing is known while the JWKS is unreachable')

  const { publicKey } = generateKeyPairSync('ed25519')
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'EdDSA' }] }))
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))

  // Well inside the 10 s unknown-kid cooldown that guards a working JWKS.
  let key: string | undefined
  for (let i = 0; i < 40 && key === undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    key = await store.get('k1')
  }
  t.match(key, /BEGIN PUBLIC KEY/, 'the key is found without waiting for the cooldown')
})
