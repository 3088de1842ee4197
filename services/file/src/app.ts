import type { FastifyInstance } from 'fastify'
import { createService, relayOutbox } from '@holo/shared'
import { signingKeys, uploadTempDir, type Config } from './config.js'
import type { Deps } from './deps.js'
import { fileMetrics } from './metrics.js'
import { FileAccess } from './modules/files/access.js'
import { deliveryRoutes } from './modules/files/delivery.routes.js'
import { DeliveryService } from './modules/files/delivery.service.js'
import { FilesRepository } from './modules/files/files.repository.js'
import { filesRoutes } from './modules/files/files.routes.js'
import { FilesService } from './modules/files/files.service.js'
import { UrlSigner } from './modules/files/signing.js'
import { uploadsRoutes } from './modules/files/uploads.routes.js'
import { UploadsService } from './modules/files/uploads.service.js'
import { observedStore } from './storage/object-store.js'

export interface AppOptions {
  logStream?: NodeJS.WritableStream
}

/** Builds the file service from its config and clients; never reads env, never listens. */
export async function buildApp (config: Config, deps: Deps, options: AppOptions = {}): Promise<FastifyInstance> {
  return await createService({
    name: 'file',
    title: 'Holo Cards file service',
    description: 'Uploads, images, thumbnails and signed access',
    config,
    logStream: options.logStream,
    checks: {
      postgres: { check: () => deps.prisma.$queryRaw`SELECT 1` },
      redis: { check: () => deps.redis.ping() },
      storage: { check: () => deps.store.ping() }
    },
    observe: { pg: deps.adapter, redis: deps.redis },
    auth: {
      keys: deps.keys,
      issuer: config.AUTH_ISSUER,
      redis: deps.redis,
      registry: { key: config.ROLES_REGISTRY_KEY }
    },
    modules: async (app) => {
      // Transactions of this client that write events wake the relays after their commit.
      const prisma = relayOutbox(app, config, deps.redis, deps.prisma)
      const metrics = fileMetrics(app.metrics)
      const repo = new FilesRepository(prisma, config.DATABASE_SCHEMA)
      const access = new FileAccess(repo)
      const store = observedStore(deps.store, metrics.storage)
      const { FILE_PUBLIC_BASE_URL: publicBaseUrl, FILE_MAX_BYTES: maxBytes } = config
      const signedUrlMaxSeconds = config.FILE_SIGNED_URL_MAX_SECONDS

      const uploads = new UploadsService(repo, store, {
        maxBytes,
        quotaBytes: config.FILE_QUOTA_BYTES,
        tempDir: uploadTempDir(config),
        publicBaseUrl
      }, metrics.upload, app.log)
      const files = new FilesService(repo, access, store, publicBaseUrl, app.log)
      const signer = new UrlSigner(signingKeys(config))
      const delivery = new DeliveryService(repo, access, store, signer, {
        publicBaseUrl,
        signedUrlMaxSeconds
      }, metrics.thumbnails, app.log)

      // In this order the OpenAPI document lists the paths as before the split.
      await app.register(uploadsRoutes, { uploads, maxBytes })
      await app.register(filesRoutes, { files })
      await app.register(deliveryRoutes, { delivery, signedUrlMaxSeconds })
    }
  })
}
