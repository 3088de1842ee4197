import { fileURLToPath } from 'node:url'
import { sveltekit } from '@sveltejs/kit/vite'
import { defineConfig } from 'vite'

export default defineConfig({
  plugins: [sveltekit()],
  // The typed client from source (its dist is not built in the workspace), like tsx's holo-source condition.
  resolve: {
    alias: { '@holo/api-client': fileURLToPath(new URL('../../packages/api-client/src/index.ts', import.meta.url)) }
  },
  // The plugin-timing note rolldown prints on slow machines is noise in npm start's output.
  build: { reportCompressedSize: false, rolldownOptions: { checks: { pluginTimings: false } } }
})
