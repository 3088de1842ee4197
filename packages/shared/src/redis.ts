import { Redis } from 'ioredis'

/**
 * A Redis client that fails fast while Redis is down (no offline queue, one
 * retry) and keeps reconnecting in the background, so readiness and callers
 * see the outage at once and recover by themselves.
 */
export function createRedis (url: string, name: string): Redis {
  return new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 1000,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 100, 1000)
  })
}

export async function closeRedis (redis: Redis): Promise<void> {
  try { await redis.quit() } catch { redis.disconnect() }
}
