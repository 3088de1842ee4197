import { Counter, Histogram, type Registry } from 'prom-client'
import type { StorageCallObserver } from './storage/object-store.js'
import type { FilesMetrics } from './modules/files/files.service.js'

/** The file service's domain metrics, on the app's registry. */
export function fileMetrics (registry: Registry): { files: FilesMetrics, storage: StorageCallObserver } {
  const uploads = new Counter({ name: 'file_uploads_total', help: 'Upload requests by outcome', labelNames: ['outcome'] as const, registers: [registry] })
  const bytes = new Counter({ name: 'file_bytes_stored_total', help: 'Bytes of new files written to storage', registers: [registry] })
  const storage = new Histogram({
    name: 'file_storage_call_duration_seconds',
    help: 'Object storage calls by operation and outcome (reads: time to first byte)',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry]
  })
  return {
    files: {
      upload: (outcome, storedBytes) => {
        uploads.inc({ outcome })
        if (storedBytes > 0) bytes.inc(storedBytes)
      }
    },
    storage: (operation, outcome, seconds) => storage.observe({ operation, outcome }, seconds)
  }
}
