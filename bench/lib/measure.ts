// The small measuring helpers the bench's own scenario modules share.
import { performance } from 'node:perf_hooks'

/** Wall-clock milliseconds with sub-millisecond resolution (comparable across processes, unlike performance.now). */
export const clock = (): number => performance.timeOrigin + performance.now()
export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
export const round2 = (x: number): number => Math.round(x * 100) / 100

/** The `p`th percentile (0–100] of ascending `sorted` values (nearest rank); `empty` when there are none. */
export function percentile (sorted: number[], p: number, empty = 0): number {
  if (sorted.length === 0) return empty
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number
}
