import type { Registry } from 'prom-client'
import { cacheCounter, type CacheCounter, counter, storageTimer, type TimedCall } from '@holo/shared'

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
  const uploads = counter(registry, 'file_uploads_total', 'Upload requests by outcome', ['outcome'])
  const bytes = counter(registry, 'file_bytes_stored_total', 'Bytes of new files written to storage')
  return {
    upload: (outcome, storedBytes) => {
      uploads.inc({ outcome })
      if (storedBytes > 0) bytes.inc(storedBytes)
    },
    storage: storageTimer(registry),
    thumbnails: cacheCounter(registry, 'thumbnail')
  }
}
