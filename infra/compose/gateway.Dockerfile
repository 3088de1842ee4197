# syntax=docker/dockerfile:1
# nginx 1.27 with the static assets gateway/nginx.conf serves: /docs (the API
# reference page and Swagger UI from npm) and /admin/ (the staff dashboard,
# apps/admin, built here). The config itself is not baked in: docker-compose.yml
# mounts gateway/nginx.conf, the one source of truth.
FROM node:20-bookworm-slim AS assets
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH CI=true
RUN npm install -g pnpm@10 >/dev/null
WORKDIR /repo
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY gateway/package.json gateway/
COPY apps/admin/package.json apps/admin/
COPY packages/api-client/package.json packages/api-client/
RUN pnpm install --frozen-lockfile --filter @holo/gateway --filter "@holo/admin..." \
 && cp -rL gateway/node_modules/swagger-ui-dist /swagger-ui
# The dashboard bundles the typed client from source; its build checks the policy in nginx.conf.
COPY packages/api-client/src packages/api-client/src
COPY gateway/nginx.conf gateway/
COPY apps/admin apps/admin
RUN pnpm --filter @holo/admin run build && mkdir /www && cp -r apps/admin/build /www/admin

FROM nginx:1.27-alpine
COPY --from=assets /swagger-ui /usr/share/holo/swagger-ui
COPY --from=assets /www /usr/share/holo/www
COPY gateway/docs /usr/share/holo/docs
EXPOSE 8080
