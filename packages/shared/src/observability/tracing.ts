// Optional OpenTelemetry tracing. Off unless OTEL_ENABLED=true (or an OTLP
// endpoint is set): when off nothing of the SDK is even loaded.

export interface TracingEnv {
  OTEL_ENABLED?: string
  OTEL_SDK_DISABLED?: string
  OTEL_SERVICE_NAME?: string
  OTEL_EXPORTER_OTLP_ENDPOINT?: string
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string
}

/** Minimal shape of an exporter, so tests can pass an in-memory one. */
export interface SpanExporterLike { export: (...args: never[]) => void, shutdown: () => Promise<void> }

export interface Tracing {
  /** Flushes pending spans and stops tracing. */
  shutdown: () => Promise<void>
}

export function tracingEnabled (env: TracingEnv): boolean {
  if (env.OTEL_SDK_DISABLED === 'true') return false
  if (env.OTEL_ENABLED !== undefined && env.OTEL_ENABLED !== '') {
    return env.OTEL_ENABLED === 'true' || env.OTEL_ENABLED === '1'
  }
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
}

export interface StartTracingOptions {
  service: string
  env: TracingEnv
  /** Replaces the OTLP/HTTP exporter (tests use an in-memory one). */
  exporter?: SpanExporterLike
}

/**
 * Starts tracing when the env asks for it, before any Fastify app is built:
 * every Fastify instance created afterwards is instrumented by @fastify/otel
 * (request, hook and handler spans; incoming W3C traceparent honoured), and
 * every outgoing fetch/undici call (the JWKS fetch, ...) gets a client span and
 * carries `traceparent`, so traces continue across services.
 * Returns undefined, having loaded nothing, when tracing is off.
 */
export async function startTracing (o: StartTracingOptions): Promise<Tracing | undefined> {
  if (!tracingEnabled(o.env) && o.exporter === undefined) return undefined
  const [
    { NodeTracerProvider, BatchSpanProcessor, SimpleSpanProcessor },
    { resourceFromAttributes },
    { UndiciInstrumentation },
    otel
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/instrumentation-undici'),
    import('@fastify/otel')
  ])
  type Exporter = ConstructorParameters<typeof SimpleSpanProcessor>[0]
  let processor
  if (o.exporter !== undefined) {
    processor = new SimpleSpanProcessor(o.exporter as unknown as Exporter)
  } else {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http')
    // The exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT and headers itself.
    processor = new BatchSpanProcessor(new OTLPTraceExporter())
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': o.env.OTEL_SERVICE_NAME ?? o.service }),
    spanProcessors: [processor]
  })
  // Global provider, W3C trace-context propagator and AsyncLocalStorage context.
  provider.register()
  const undici = new UndiciInstrumentation()
  undici.setTracerProvider(provider)
  undici.enable()
  const FastifyOtel = otel.FastifyOtelInstrumentation
  const fastify = new FastifyOtel({
    registerOnInitialization: true,
    ignorePaths: (opts: { url: string }) => /^\/(metrics|health\/)/.test(opts.url)
  })
  fastify.setTracerProvider(provider)
  fastify.enable()
  return {
    shutdown: async () => {
      fastify.disable()
      undici.disable()
      await provider.shutdown()
    }
  }
}
