# syntax=docker/dockerfile:1
# One image recipe for every service (auth, card, file, notification, analytics, audit, billing): they differ only in
# their folder and port. Built from the repository root, because it needs the
# workspace lockfile and packages/shared and packages/events:
#   docker build -f infra/compose/service.Dockerfile --build-arg SERVICE=auth --build-arg PORT=3001 -t holo/auth .
# Build: pnpm install, prisma generate, tsc to dist/. Run: prod deps and dist/ only.
ARG NODE_IMAGE=node:20-bookworm-slim
ARG SERVICE
ARG PORT

FROM ${NODE_IMAGE} AS base
ARG SERVICE
RUN test -n "$SERVICE" || { echo 'build with --build-arg SERVICE=auth|card|file|notification|analytics|audit|billing' >&2; exit 1; }
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH CI=true
RUN npm install -g pnpm@10 >/dev/null
WORKDIR /repo
# Every workspace manifest: pnpm checks the whole lockfile even when filtering.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json ./
COPY packages/shared/package.json packages/shared/
COPY packages/events/package.json packages/events/
COPY infra/package.json infra/
COPY packages/api-client/package.json packages/api-client/
COPY services/auth/package.json services/auth/
COPY services/card/package.json services/card/
COPY services/file/package.json services/file/
COPY services/notification/package.json services/notification/
COPY services/analytics/package.json services/analytics/
COPY services/audit/package.json services/audit/
COPY services/billing/package.json services/billing/
COPY gateway/package.json gateway/
COPY bench/package.json bench/

FROM base AS build
ARG SERVICE
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store pnpm install --frozen-lockfile --store-dir /pnpm/store
COPY packages/shared/tsconfig.json packages/shared/
COPY packages/shared/src packages/shared/src
COPY packages/events/tsconfig.json packages/events/
COPY packages/events/src packages/events/src
COPY services/${SERVICE}/tsconfig.json services/${SERVICE}/tsconfig.build.json services/${SERVICE}/prisma.config.ts services/${SERVICE}/
COPY services/${SERVICE}/prisma services/${SERVICE}/prisma
COPY services/${SERVICE}/src services/${SERVICE}/src
# Prisma's CLI asks for a schema-engine binary it cannot download; generate never runs it.
ENV PRISMA_SCHEMA_ENGINE_BINARY=/bin/sh
RUN pnpm --filter @holo/${SERVICE} run generate \
 && pnpm --filter @holo/events run build \
 && pnpm --filter @holo/shared run build \
 && pnpm --filter @holo/${SERVICE} run build

FROM base AS prod-deps
ARG SERVICE
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store pnpm install --frozen-lockfile --prod --filter @holo/${SERVICE}... --store-dir /pnpm/store

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ARG PORT
ENV NODE_ENV=production HOST=0.0.0.0 PORT=${PORT}
WORKDIR /app
# pnpm's layout is symlinks between these folders: keep their relative places.
COPY --from=prod-deps /repo/node_modules node_modules
COPY --from=prod-deps /repo/packages/shared/node_modules packages/shared/node_modules
COPY --from=prod-deps /repo/packages/events/node_modules packages/events/node_modules
COPY --from=prod-deps /repo/services/${SERVICE}/node_modules services/${SERVICE}/node_modules
COPY --from=build /repo/packages/shared/package.json packages/shared/
COPY --from=build /repo/packages/shared/dist packages/shared/dist
COPY --from=build /repo/packages/events/package.json packages/events/
COPY --from=build /repo/packages/events/dist packages/events/dist
COPY --from=build /repo/services/${SERVICE}/package.json services/${SERVICE}/
COPY --from=build /repo/services/${SERVICE}/dist services/${SERVICE}/dist
WORKDIR /app/services/${SERVICE}
USER node
EXPOSE ${PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/server.js"]
