// Finds and removes what interrupted uploads, crashes and storage outages
// leave behind. Safe to run while the service runs: objects and temp files
// younger than the grace period may belong to uploads in flight, and a row is
// only written after its object, so every candidate is checked again first.
import { readdir, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import type { ObjectStore } from '../../storage/object-store.js'
import { fileDeleted } from './files.events.js'
import type { FilesRepository } from './files.repository.js'
import { ORIGINAL_SUFFIX } from './storage-keys.js'
import { TEMP_FILE_PREFIX } from './uploads.service.js'

export interface OrphanOptions {
  repo: FilesRepository
  store: ObjectStore
  tempDir: string
  /** Only report; remove nothing. */
  dryRun: boolean
  /** Objects and temp files younger than this are left alone. */
  graceMs: number
  now?: number
}

export interface OrphanReport {
  dryRun: boolean
  objectsWithoutRow: string[]
  rowsWithoutObject: Array<{ id: string, storageKey: string }>
  staleTempFiles: string[]
}

const KEY = /^(files\/[0-9a-f-]{36})\/(original|thumbnail-\d+\.webp)$/
const BATCH = 500

/** The storage key of the row an object belongs to, or null when the key is not one of ours. */
const ownerKeyOf = (key: string): string | null => {
  const m = KEY.exec(key)
  return m === null ? null : `${m[1] as string}${ORIGINAL_SUFFIX}`
}

export async function cleanOrphans (o: OrphanOptions): Promise<OrphanReport> {
  const cutoff = (o.now ?? Date.now()) - o.graceMs
  const report: OrphanReport = { dryRun: o.dryRun, objectsWithoutRow: [], rowsWithoutObject: [], staleTempFiles: [] }

  // Objects without a row.
  const listed = new Set<string>()
  let batch: Array<{ key: string, old: boolean }> = []
  const flush = async (): Promise<void> => {
    const owners = [...new Set(batch.map((b) => ownerKeyOf(b.key)).filter((k): k is string => k !== null))]
    const existing = owners.length > 0 ? await o.repo.existingKeys(owners) : new Set<string>()
    for (const b of batch) {
      const owner = ownerKeyOf(b.key)
      if (b.old && (owner === null || !existing.has(owner))) report.objectsWithoutRow.push(b.key)
    }
    batch = []
  }
  for await (const obj of o.store.list('')) {
    listed.add(obj.key)
    batch.push({ key: obj.key, old: obj.lastModified.getTime() < cutoff })
    if (batch.length >= BATCH) await flush()
  }
  await flush()

  // Rows without an object (lost by storage, or removed behind the service's back).
  let after: string | null = null
  for (;;) {
    const rows = await o.repo.pageById(after, BATCH)
    for (const row of rows) {
      if (!listed.has(row.storageKey) && (await o.store.stat(row.storageKey)) === null) {
        report.rowsWithoutObject.push({ id: row.id, storageKey: row.storageKey })
      }
    }
    if (rows.length < BATCH) break
    after = rows.at(-1)?.id ?? null
  }

  // Spooled uploads of requests that died with their process.
  const names = await readdir(o.tempDir).catch(() => [] as string[])
  for (const name of names.filter((n) => n.startsWith(TEMP_FILE_PREFIX))) {
    const full = path.join(o.tempDir, name)
    const st = await stat(full).catch(() => undefined)
    if (st !== undefined && st.mtimeMs < cutoff) report.staleTempFiles.push(full)
  }

  if (!o.dryRun) {
    for (const key of report.objectsWithoutRow) {
      // Checked again: its row may have been committed since the listing.
      const owner = ownerKeyOf(key)
      if (owner !== null && (await o.repo.existingKeys([owner])).has(owner)) continue
      await o.store.remove([key])
    }
    for (const row of report.rowsWithoutObject) await o.repo.delete(row.id, (gone) => [fileDeleted(gone, null)])
    await Promise.all(report.staleTempFiles.map((f) => rm(f, { force: true })))
  }
  return report
}
