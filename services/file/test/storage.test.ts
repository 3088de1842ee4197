import { request } from 'node:http'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { readdir } from 'node:fs/promises'
import t from 'tap'
import { S3ObjectStore, createS3 } from '../src/storage/s3-object-store.js'
import { buildTestApp, imageForm, makeImage, upload } from './helper.js'

t.test('storage down', async (t) => {
  const ta = await buildTestApp(t)
  const alice = ta.user()
  const file = (await upload(ta, alice, await makeImage({ seed: 1 }))).json()
  const rows = await ta.deps.prisma.file.count()

  t.test('mid-upload: a clear 503, no row, no temp file', async (t) => {
    const address = await ta.app.listen({ port: 0, host: '127.0.0.1' })
    const big = await makeImage({ width: 500, height: 500, noise: true })
    const form = imageForm(big)
    const half = Math.floor(form.payload.length / 2)
    const res = await new Promise<{ status: number, body: string }>((resolve, reject) => {
      const req = request(`${address}/api/v1/files`, {
        method: 'POST',
        headers: { ...alice.headers, ...form.headers, 'content-length': String(form.payload.length) }
      }, (r) => {
        let body = ''
        r.setEncoding('utf8')
          .on('data', (c: string) => { body += c })
          .on('end', () => resolve({ status: r.statusCode ?? 0, body }))
      })
      req.on('error', reject)
      req.write(form.payload.subarray(0, half))
      void (async () => {
        // The service has started spooling this upload: now storage goes away.
        while ((await readdir(ta.tempDir)).length === 0) await new Promise((resolve) => setImmediate(resolve))
        await ta.s3.stop()
        req.end(form.payload.subarray(half))
      })().catch(reject)
    })
    t.equal(res.status, 503, res.body)
    const problem = JSON.parse(res.body)
    t.match(problem, { status: 503, code: 'DEPENDENCY_UNAVAILABLE', dependency: 'storage' })
    t.match(problem.detail, /storage is unavailable/)
    t.equal(await ta.deps.prisma.file.count(), rows, 'no row')
    t.same(await readdir(ta.tempDir), [], 'no temp file')
  })

  t.test('content answers 503 naming storage; metadata still answers', async (t) => {
    const content = await ta.app.inject({ url: file.url })
    t.equal(content.statusCode, 503)
    t.equal(content.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.equal(content.json().dependency, 'storage')
    t.equal((await ta.app.inject({ url: `/api/v1/files/${file.id}/thumbnail` })).json().dependency, 'storage')
    const meta = await ta.app.inject({ url: `/api/v1/files/${file.id}` })
    t.equal(meta.statusCode, 200)
    t.equal(meta.json().id, file.id)
    const list = await ta.app.inject({ url: '/api/v1/files', headers: alice.headers })
    t.equal(list.statusCode, 200)
  })

  t.test('readiness names storage', async (t) => {
    const res = await ta.app.inject({ url: '/health/ready' })
    t.equal(res.statusCode, 503)
    t.match(res.json(), {
      status: 'unavailable',
      checks: {
        storage: { status: 'down', error: 'storage is unreachable' },
        postgres: { status: 'ok' },
        redis: { status: 'ok' }
      }
    })
    t.equal((await ta.app.inject({ url: '/health/live' })).statusCode, 200)
  })

  t.test('storage call errors are counted', async (t) => {
    const res = await ta.app.inject({ url: '/metrics' })
    t.match(
      res.body,
      /storage_operation_duration_seconds_count\{service="file",operation="put",outcome="error"\} [1-9]/
    )
  })
})

t.test('a storage that accepts connections and never answers gives up with a storage error', async (t) => {
  const sockets = new Set<Socket>()
  const silent = createServer((socket) => { sockets.add(socket) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of sockets) s.destroy(); silent.close() })
  const endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`
  const store = new S3ObjectStore(createS3({
    S3_ENDPOINT: endpoint,
    S3_REGION: 'us-east-1',
    S3_ACCESS_KEY: 'k',
    S3_SECRET_KEY: 's',
    S3_BUCKET: 'silent'
  }), 'silent', 'us-east-1', 200)
  const calls: Array<() => Promise<unknown>> = [
    () => store.stat('k'),
    () => store.get('k'),
    () => store.ping(),
    () => store.remove(['k'])
  ]
  for (const call of calls) {
    await t.rejects(call(), { name: 'StorageUnavailableError', dependency: 'storage' })
  }
})

t.test('with every dependency up', async (t) => {
  const ta = await buildTestApp(t)

  t.test('a bucket missing (storage was down at start) is created by the readiness probe', async (t) => {
    const bucket = 'created-later'
    const store = new S3ObjectStore(createS3({ ...ta.config, S3_BUCKET: bucket }), bucket, ta.config.S3_REGION)
    const s3 = createS3(ta.config)
    t.equal(await s3.bucketExists(bucket), false)
    await store.ping()
    t.equal(await s3.bucketExists(bucket), true)
    await store.ping()
  })

  t.test('readiness is ok', async (t) => {
    const res = await ta.app.inject({ url: '/health/ready' })
    t.equal(res.statusCode, 200)
    t.same(Object.keys(res.json().checks).sort(), ['postgres', 'redis', 'storage'])
  })

  t.test('the OpenAPI document describes every route fully', async (t) => {
    const doc = (await ta.app.inject({ url: '/openapi.json' })).json()
    const ops = Object.entries(doc.paths as Record<string, Record<string, any>>)
      .filter(([path]) => path.startsWith('/api/v1/files'))
      .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) =>
        ({ name: `${method.toUpperCase()} ${path}`, op })))
    t.equal(ops.length, 9)
    for (const { name, op } of ops) {
      t.same(op.tags, ['files'], name)
      t.type(op.summary, 'string', name)
      const optional = ['GET /api/v1/files/{id}', 'GET /api/v1/files/{id}/content', 'GET /api/v1/files/{id}/thumbnail']
      const security = optional.includes(name) ? [{}, { bearerAuth: [] }] : [{ bearerAuth: [] }]
      t.same(op.security, security, `${name}: security (from the route's auth mode)`)
      t.ok(op.responses['401'], `${name}: 401`)
      const statuses = Object.keys(op.responses)
      t.ok(statuses.some((s) => s.startsWith('2')), `${name}: a success response`)
      t.ok(statuses.some((s) => s.startsWith('4')), `${name}: problem responses`)
    }
    const upload = doc.paths['/api/v1/files'].post
    t.same(Object.keys(upload.requestBody.content), ['multipart/form-data'])
    t.match(
      upload.requestBody.content['multipart/form-data'].schema.properties.file,
      { type: 'string', format: 'binary' }
    )
    t.ok(doc.paths['/api/v1/files/{id}/content'].get.responses['206'].content['image/png'])
  })
})
