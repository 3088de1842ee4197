import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import Fastify from 'fastify'
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node'
import { corePlugin, serviceFastifyOptions, startTracing, tracingEnabled } from '../src/index.js'

t.test('tracing is off unless the environment switches it on', async (t) => {
  t.equal(tracingEnabled({}), false)
  t.equal(tracingEnabled({ OTEL_ENABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), false)
  t.equal(tracingEnabled({ OTEL_ENABLED: 'true' }), true)
  t.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), true)
  t.equal(tracingEnabled({ OTEL_ENABLED: 'true', OTEL_SDK_DISABLED: 'true' }), false)
  t.equal(await startTracing({ service: 'x', env: {} }), undefined, 'nothing started')
})

t.test('incoming trace context reaches the outgoing fetch (service-to-service call)', async (t) => {
  // The "other service": records the headers of the call it receives.
  const seen: IncomingHttpHeaders[] = []
  const upstream = createServer((req, res) => {
    seen.push(req.headers)
    res.setHeader('content-type', 'application/json')
    res.end('{"keys":[]}')
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => upstream.close(() => resolve())))
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/jwks.json`

  const exporter = new InMemorySpanExporter()
  const tracing = await startTracing({ service: 'card', env: {}, exporter })
  t.ok(tracing, 'started with an exporter')
  t.teardown(() => tracing?.shutdown())

  const app = Fastify(serviceFastifyOptions({ service: 'card', logLevel: 'silent' }))
  await app.register(corePlugin, { service: 'card', checks: {}, openapi: { title: 't', description: 'd' } })
  app.get('/calls-upstream', async () => {
    const res = await fetch(upstreamUrl)
    return await res.json()
  })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port

  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
  // node:http, not fetch: the test's own fetch would be traced and add its own traceparent.
  const status = await new Promise<number | undefined>((resolve, reject) => {
    httpRequest(`http://127.0.0.1:${port}/calls-upstream`, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` }
    }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode))
    }).on('error', reject).end()
  })
  t.equal(status, 200)
  t.equal(seen.length, 1)
  const traceparent = String(seen[0]?.traceparent ?? '')
  t.match(traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/, 'the outgoing call carries W3C traceparent')
  t.equal(traceparent.split('-')[1], traceId, 'in the caller\'s trace')

  // The server span ends in onResponse, just after the client has its answer.
  for (let i = 0; i < 50 && !exporter.getFinishedSpans().some((s) => s.kind === 1); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const spans = exporter.getFinishedSpans()
  t.ok(spans.some((s) => s.spanContext().traceId === traceId && s.kind === 2), 'a client span for the fetch')
  t.ok(spans.some((s) => s.spanContext().traceId === traceId && s.kind === 1), 'a server span for the request')
})
