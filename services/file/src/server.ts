import { runService } from '@holo/shared'
import { buildApp } from './app.js'
import { loadConfig } from './config.js'
import { closeDeps, createDeps } from './deps.js'

await runService({
  service: 'file',
  loadConfig,
  host: (c) => c.HOST,
  port: (c) => c.PORT,
  start: async (config) => {
    const deps = await createDeps(config)
    const app = await buildApp(config, deps)
    // Storage may be down at start: the service still starts, readiness tells.
    await deps.store.ensureReady()
      .catch((err: unknown) => app.log.warn({ err }, 'could not ensure the bucket; will serve without storage'))
    return { app, close: () => closeDeps(deps) }
  }
})
