// The role registry every service's auth plugin follows, against real Redis: the shared one for the normal
// paths, a private redis-server for an outage (stopped and started by the test).
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import pino from 'pino'
import type { Redis } from 'ioredis'
import { eventually, ownRedis, testRedisUrl } from '@holo/infra/testing'
import {
  BUILT_IN_ROLES, closeRedis, createRedis, PERMISSION_NAMES, RoleRegistry, roleRegistryKeys, writeRoleRegistry
} from '../src/index.js'

const log = pino({ level: 'silent' })

async function redisFor (t: Test, url = testRedisUrl()): Promise<Redis> {
  const redis = await createRedis(url, 'role-registry-test')
  t.teardown(async () => { await closeRedis(redis) })
  return redis
}

async function registryOn (t: Test, redis: Redis, key: string, pollMs = 2000): Promise<RoleRegistry> {
  const registry = new RoleRegistry({ redis, key, pollMs, log })
  await registry.start()
  t.teardown(async () => { await registry.close() })
  return registry
}

const newKey = (t: Test, redis: Redis): string => {
  const key = `test:roles:${randomUUID()}`
  const k = roleRegistryKeys(key)
  t.teardown(async () => { await redis.del(k.roles, k.version).catch(() => {}) })
  return key
}

const has = (r: RoleRegistry, roles: string[], p: string): boolean => (r.permissionsOf(roles) as Set<string>).has(p)

t.test('before anything is written the built-in roles apply; unknown roles grant nothing', async (t) => {
  const redis = await redisFor(t)
  const registry = await registryOn(t, redis, newKey(t, redis))
  t.equal(registry.loadedVersion, null)
  t.same([...registry.permissionsOf(['moderator'])], BUILT_IN_ROLES.moderator)
  t.same([...registry.permissionsOf(['admin'])].sort(), [...PERMISSION_NAMES].sort())
  t.same([...registry.permissionsOf(['user'])], [])
  t.same([...registry.permissionsOf(['ghost'])], [])
  t.same([...registry.permissionsOf(['user', 'creator'])], ['templates.publish'], 'the union of the roles')
  t.equal(registry.permissionsOf(['moderator']), registry.permissionsOf(['moderator']), 'memoised per role set')
})

t.test('a write is loaded at start and followed by its announcement; versions only move forward', async (t) => {
  const redis = await redisFor(t)
  const key = newKey(t, redis)
  t.ok(await writeRoleRegistry(redis, key, 5, [
    { name: 'user', permissions: [] },
    { name: 'editor', permissions: ['cards.hide', 'not.a.permission'] }
  ]))
  // Polling every 2 s: the announcement is what makes it quick, the poll is the safety net tested below.
  const registry = await registryOn(t, redis, key)
  t.equal(registry.loadedVersion, '5')
  t.same([...registry.permissionsOf(['editor'])], ['cards.hide'], 'names this version does not know are left out')
  t.same([...registry.permissionsOf(['moderator'])], [], 'a role missing from the registry grants nothing')

  t.notOk(await writeRoleRegistry(redis, key, 4, [{ name: 'editor', permissions: [] }]), 'an older version is refused')
  t.notOk(await writeRoleRegistry(redis, key, 5, [{ name: 'editor', permissions: [] }]), 'so is the same version')
  t.ok(await writeRoleRegistry(redis, key, 6, [{ name: 'editor', permissions: ['cards.hide', 'audit.read'] }]))
  t.ok(await eventually(() => has(registry, ['editor'], 'audit.read'), { tries: 50, intervalMs: 100 }))
  t.equal(registry.loadedVersion, '6')
  t.ok(await writeRoleRegistry(redis, key, 2, [{ name: 'editor', permissions: [] }], { force: true }),
    'a forced write (the auth service at start) replaces a newer copy')
  t.ok(await eventually(() => !has(registry, ['editor'], 'audit.read'), { tries: 50, intervalMs: 100 }))
})

t.test('without the announcement the version poll alone converges', async (t) => {
  const redis = await redisFor(t)
  const key = newKey(t, redis)
  const k = roleRegistryKeys(key)
  await writeRoleRegistry(redis, key, 1, [{ name: 'editor', permissions: [] }])
  const registry = await registryOn(t, redis, key, 500)
  t.equal(registry.loadedVersion, '1')
  // What a lost message looks like: the hash and version change, nothing is published.
  await redis.multi().hset(k.roles, 'editor', JSON.stringify(['reports.resolve'])).set(k.version, '2').exec()
  t.ok(await eventually(() => has(registry, ['editor'], 'reports.resolve'), { tries: 50, intervalMs: 100 }),
    'applied within 5 s')
})

t.test('Redis down: the last map read stays in force; back up, changes are followed again', async (t) => {
  const own = await ownRedis(t)
  const redis = await redisFor(t, own.url)
  const writer = await redisFor(t, own.url)
  const key = `test:roles:${randomUUID()}`
  await writeRoleRegistry(writer, key, 1, [{ name: 'moderator', permissions: ['cards.hide', 'users.read'] }])
  const registry = await registryOn(t, redis, key, 200)
  t.ok(has(registry, ['moderator'], 'users.read'))
  await own.stop()
  await new Promise((resolve) => setTimeout(resolve, 600))
  t.ok(has(registry, ['moderator'], 'users.read'), 'kept while Redis is down (not the built-in defaults)')
  await own.start()
  t.ok(await eventually(() => writer.status === 'ready' && redis.status === 'ready', { tries: 100, intervalMs: 100 }))
  await writeRoleRegistry(writer, key, 2, [{ name: 'moderator', permissions: ['cards.hide'] }])
  t.ok(await eventually(() => !has(registry, ['moderator'], 'users.read'), { tries: 50, intervalMs: 100 }))
})
