# syntax=docker/dockerfile:1
# storx-replicator: runs beside the source PostgreSQL. Build from the repository root:
#   docker build -f docker/storx-replicator.Dockerfile -t storx-backup/storx-replicator .

# --- build: install with the lockfile, compile, and cut a production-only tree ------------------
FROM node:20-bookworm AS build
# The pinned pnpm from the registry (corepack's signature check is not reliable everywhere).
RUN npm install --global pnpm@10.34.9
WORKDIR /repo
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc tsconfig.base.json ./
# Every package.json must be present: pnpm resolves the workspace as a whole, even when only
# some packages are installed (.dockerignore keeps tests, builds and node_modules out).
COPY packages packages
COPY scripts/install scripts/install
COPY scripts/lib/pnpm.sh scripts/lib/pnpm.sh
# The README's production install (scripts/install): only this service's workspace packages are
# installed and built (no test-only packages, no embedded PostgreSQL download), then
# `pnpm deploy --prod` cuts /out: the package with its production dependencies only (workspace
# packages as their built dist/), relative links only. The command is linked below instead.
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    scripts/install --no-link storx-replicator /out

# --- runtime: Node and the deployed tree, nothing else ------------------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only for the service user: the process cannot modify its own code.
COPY --from=build /out /app
COPY docker/healthcheck.mjs /app/healthcheck.mjs
# On PATH for `docker compose exec replicator storx-replicator status`. /keys is owned by the
# service user so that a fresh named volume mounted there is writable by `keys generate`.
RUN ln -s /app/bin/storx-replicator.js /usr/local/bin/storx-replicator \
 && mkdir -p /keys /etc/storx \
 && chown node:node /keys
# The node user (uid 1000) of the official image.
USER node
# replication.metrics-listen: /metrics and /healthz. Off unless configured; the compose files
# set it to 0.0.0.0:9187, which this health check expects.
EXPOSE 9187
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["node", "/app/healthcheck.mjs", "http://127.0.0.1:9187/healthz"]
ENTRYPOINT ["node", "/app/bin/storx-replicator.js"]
CMD ["run"]
