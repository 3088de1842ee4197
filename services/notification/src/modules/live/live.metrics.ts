// Instruments of live delivery on app.metrics (reused when two apps share a registry).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export type Transport = 'sse' | 'ws'

export interface LiveMetrics {
  connections: Gauge<'transport'>
  events: Counter<'transport' | 'kind'>
  latency: Histogram<'transport'>
}

export function liveMetrics (registry: Registry): LiveMetrics {
  const existing = <M>(name: string): M | undefined => registry.getSingleMetric(name) as M | undefined
  return {
    connections: existing<Gauge<'transport'>>('notification_stream_connections') ?? new Gauge({
      name: 'notification_stream_connections',
      help: 'Open live notification streams, by transport (sse, ws)',
      labelNames: ['transport'],
      registers: [registry]
    }),
    events: existing<Counter<'transport' | 'kind'>>('notification_stream_events_total') ?? new Counter({
      name: 'notification_stream_events_total',
      help: 'Events written on live streams, by transport and kind (notification, unread, removed, reauth)',
      labelNames: ['transport', 'kind'],
      registers: [registry]
    }),
    latency: existing<Histogram<'transport'>>('notification_delivery_latency_seconds') ?? new Histogram({
      name: 'notification_delivery_latency_seconds',
      help: 'From a notification\'s createdAt to its live write on a stream (backlog sent on resume excluded)',
      labelNames: ['transport'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry]
    })
  }
}
