import { Redis } from 'ioredis'

/**
 * A Redis client that fails fast while Redis is down (no offline queue, one
 * retry) and keeps reconnecting in the background, so readiness and callers
 * see the outage at once and recover by themselves. Commands issued in the
 * same tick go out in one write (auto-pipelining): under load that was 18 %
 * of the card service's CPU as one socket write per command.
 */
export async function createRedis (url: string, name: string): Promise<Redis> {
  const redis = new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 1000,
    enableAutoPipelining: true,
    lazyConnect: true,
    retryStrategy: (times) => Math.min(times * 100, 1000)
  })
  // Redis may be down at start: the service starts anyway, readiness says so,
  // and the client keeps reconnecting.
  redis.on('error', () => {})
  await redis.connect().catch(() => {})
  return redis
}

export async function closeRedis (redis: Redis): Promise<void> {
  try { await redis.quit() } catch { redis.disconnect() }
}
