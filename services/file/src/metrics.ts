import { Counter, type Registry } from 'prom-client'
import { cacheCounter, storageTimer, type CacheCounter, type TimedCall } from '@holo/shared'

export type UploadOutcome = 'created' | 'duplicate' | 'rejected'

export interface FileMetrics {
  /** file_uploads_total{outcome} and, for new files, file_bytes_stored_total. */
  upload: (outcome: UploadOutcome, storedBytes: number) => void
  /** The shared storage_operation_duration_seconds{operation, outcome}. */
  storage: TimedCall
  /** The shared cache_requests_total{cache="thumbnail"}: a stored thumbnail is a hit, one made on request a miss. */
  thumbnails: CacheCounter
}

/** The file service's metrics, on the app's registry. */
export function fileMetrics (registry: Registry): FileMetrics {
  const uploads = new Counter({
    name: 'file_uploads_total',
    help: 'Upload requests by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry]
  })
  const bytes = new Counter({
    name: 'file_bytes_stored_total',
    help: 'Bytes of new files written to storage',
    registers: [registry]
  })
  return {
    upload: (outcome, storedBytes) => {
      uploads.inc({ outcome })
      if (storedBytes > 0) bytes.inc(storedBytes)
    },
    storage: storageTimer(registry),
    thumbnails: cacheCounter(registry, 'thumbnail')
  }
}
