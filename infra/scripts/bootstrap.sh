#!/usr/bin/env bash
# Brings a fresh machine to the point where the stack can run and be tested:
# pnpm, nginx, the workspace's dependencies and each service's Prisma client.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { printf '[bootstrap] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

if ! command -v pnpm >/dev/null 2>&1; then
  say "installing pnpm 10"
  npm install -g pnpm@10 >/dev/null
fi

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  say "installing nginx"
  as_root apt-get update -qq >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null \
    || say "could not install nginx: install it yourself (apt-get install nginx)"
fi

stamp=node_modules/.holo-install-stamp
if [ ! -f "$stamp" ] || [ pnpm-lock.yaml -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  say "installing dependencies"
  if [ -n "${CI:-}" ]; then pnpm install --frozen-lockfile --reporter=silent; else pnpm install --reporter=silent; fi
  touch "$stamp"
fi

# Prisma's CLI wants a schema-engine binary it cannot download here; generate never runs it.
export PRISMA_SCHEMA_ENGINE_BINARY="${PRISMA_SCHEMA_ENGINE_BINARY:-$(command -v node)}"
for svc in services/*/; do
  if [ ! -f "$svc/src/generated/prisma/client.ts" ] || [ "$svc/prisma/schema.prisma" -nt "$svc/src/generated/prisma/client.ts" ]; then
    say "generating the Prisma client of $svc"
    (cd "$svc" && pnpm exec prisma generate >/dev/null)
  fi
done

# The staff dashboard's static files, served by the gateway at /admin/: built again only when its sources changed.
node apps/admin/scripts/build-if-changed.mjs
