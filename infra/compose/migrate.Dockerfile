# syntax=docker/dockerfile:1
# The one-shot `migrate` step of docker-compose.yml: `pnpm db:migrate` (roles,
# schemas, grants, then every service's prisma/migrations, recorded in each
# schema's _prisma_migrations as Prisma does). Production may instead run
# `prisma migrate deploy` per service on the same files; see docs/architecture.md.
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE}
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH CI=true
RUN npm install -g pnpm@10 >/dev/null
WORKDIR /repo
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json ./
COPY packages/shared/package.json packages/shared/
COPY infra/package.json infra/
COPY services/auth/package.json services/auth/
COPY services/card/package.json services/card/
COPY services/file/package.json services/file/
COPY gateway/package.json gateway/
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store pnpm install --frozen-lockfile --store-dir /pnpm/store
COPY infra/src infra/src
COPY infra/db infra/db
COPY services/auth/prisma services/auth/prisma
COPY services/card/prisma services/card/prisma
COPY services/file/prisma services/file/prisma
USER node
CMD ["pnpm", "db:migrate"]
