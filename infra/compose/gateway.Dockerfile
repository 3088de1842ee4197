# syntax=docker/dockerfile:1
# nginx 1.27 with the static assets gateway/nginx.conf serves at /docs (the API
# reference page and Swagger UI from npm). The config itself is not baked in:
# docker-compose.yml mounts gateway/nginx.conf, the one source of truth.
FROM node:20-bookworm-slim AS assets
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH CI=true
RUN npm install -g pnpm@10 >/dev/null
WORKDIR /repo
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY gateway/package.json gateway/
RUN pnpm install --frozen-lockfile --prod --filter @holo/gateway \
 && cp -rL gateway/node_modules/swagger-ui-dist /swagger-ui

FROM nginx:1.27-alpine
COPY --from=assets /swagger-ui /usr/share/holo/swagger-ui
COPY gateway/docs /usr/share/holo/docs
EXPOSE 8080
