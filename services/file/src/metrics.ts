import { Counter, type Registry } from 'prom-client'
import type { FilesMetrics } from './modules/files/files.service.js'

/** The file service's domain metrics, on the app's registry (storage latency: the shared `storageTimer`). */
export function fileMetrics (registry: Registry): { files: FilesMetrics } {
  const uploads = new Counter({ name: 'file_uploads_total', help: 'Upload requests by outcome', labelNames: ['outcome'] as const, registers: [registry] })
  const bytes = new Counter({ name: 'file_bytes_stored_total', help: 'Bytes of new files written to storage', registers: [registry] })
  return {
    files: {
      upload: (outcome, storedBytes) => {
        uploads.inc({ outcome })
        if (storedBytes > 0) bytes.inc(storedBytes)
      }
    }
  }
}
