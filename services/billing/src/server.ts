import { runService } from '@holo/shared'
import { buildApp } from './app.js'
import { loadConfig } from './config.js'
import { closeDeps, createDeps } from './deps.js'

await runService({
  service: 'billing',
  loadConfig,
  host: (c) => c.HOST,
  port: (c) => c.PORT,
  start: async (config) => {
    const deps = await createDeps(config)
    const app = await buildApp(config, deps)
    return { app, close: () => closeDeps(deps) }
  }
})
