import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { authPlugin, corePlugin, serviceFastifyOptions, storageTimer } from '@holo/shared'
import { signingKeys, uploadTempDir, type Config } from './config.js'
import type { Deps } from './deps.js'
import { fileMetrics } from './metrics.js'
import { FilesRepository } from './modules/files/files.repository.js'
import { filesRoutes } from './modules/files/files.routes.js'
import { FilesService } from './modules/files/files.service.js'
import { UrlSigner } from './modules/files/signing.js'
import { observedStore } from './storage/object-store.js'

export interface AppOptions {
  logStream?: NodeJS.WritableStream
}

/** Builds the file service from its config and clients; never reads env, never listens. */
export async function buildApp (config: Config, deps: Deps, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(serviceFastifyOptions({ service: 'file', logLevel: config.LOG_LEVEL, logStream: options.logStream }))
    .withTypeProvider<TypeBoxTypeProvider>()

  await app.register(corePlugin, {
    service: 'file',
    observe: { pg: deps.adapter, redis: deps.redis },
    openapi: { title: 'Holo Cards file service', description: 'Uploads, images, thumbnails and signed access' },
    checks: {
      postgres: { check: () => deps.prisma.$queryRaw`SELECT 1` },
      redis: { check: () => deps.redis.ping() },
      storage: { check: () => deps.store.ping() }
    }
  })
  await app.register(authPlugin, { keys: deps.keys, issuer: config.AUTH_ISSUER, redis: deps.redis })

  const metrics = fileMetrics(app.metrics)
  const service = new FilesService(
    new FilesRepository(deps.prisma),
    observedStore(deps.store, storageTimer(app.metrics)),
    new UrlSigner(signingKeys(config)),
    {
      maxBytes: config.FILE_MAX_BYTES,
      quotaBytes: config.FILE_QUOTA_BYTES,
      tempDir: uploadTempDir(config),
      publicBaseUrl: config.FILE_PUBLIC_BASE_URL,
      signedUrlMaxSeconds: config.FILE_SIGNED_URL_MAX_SECONDS
    },
    metrics.files,
    app.log
  )
  await app.register(filesRoutes, {
    service,
    maxBytes: config.FILE_MAX_BYTES,
    signedUrlMaxSeconds: config.FILE_SIGNED_URL_MAX_SECONDS
  })

  return app
}
