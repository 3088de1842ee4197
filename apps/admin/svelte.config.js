import adapter from '@sveltejs/adapter-static'

/** @type {import('@sveltejs/kit').Config} */
export default {
  kit: {
    // Plain files for nginx: every route renders in the browser from one fallback page.
    adapter: adapter({ pages: 'build', assets: 'build', fallback: 'index.html', strict: true }),
    paths: { base: '/admin', relative: false },
    // The one list of permissions and built-in roles (dependency-free) from the shared kit, from source.
    alias: { '@holo/permissions': '../../packages/shared/src/auth/permissions.ts' },
    // Inline scripts would need 'unsafe-inline' in the gateway's CSP: SvelteKit hashes its bootstrap instead,
    // but a static fallback page cannot carry a per-response header, so the bootstrap goes to a file.
    output: { bundleStrategy: 'split' },
    version: { pollInterval: 0 }
  }
}
