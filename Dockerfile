# syntax=docker/dockerfile:1
# Broski: one image for the API (`node dist/cli.js serve`) and the queue workers
# (`node dist/cli.js worker`). See docker-compose.yml for the one-host production set-up.

# ---- build: compile TypeScript with the full toolchain ----------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 normally downloads a prebuilt binary; these build it from source when it cannot.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json .swcrc ./
COPY src ./src
COPY drizzle ./drizzle
RUN npm run build

# ---- deps: production dependencies only (native modules compiled here, not in the runtime) -----
FROM node:20-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime: what runs, as the unprivileged `node` user ---------------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    DATABASE_PATH=/app/data/broski.db \
    BACKUP_DIR=/app/data/backups \
    PORT=3000
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node drizzle ./drizzle
COPY --chown=node:node package.json ./
# The data directory exists and belongs to `node` before a volume is mounted on it, so a new named
# volume starts with the right owner.
RUN mkdir -p /app/data/backups && chown -R node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 3000
# HOST stays the default loopback here: set HOST=0.0.0.0 (as docker-compose.yml does) to publish
# the port; the API then requires an API key (`node dist/cli.js keys create`).
# No HEALTHCHECK here: the same image runs workers, which have no HTTP port; compose defines one
# for the API.
# V8 heap sizing (bench/RESULTS.md): a 4 MB young generation and a 512 MB old-space cap keep the
# API at about 145 MB RSS instead of 205 MB after a burst of 1,000 workflows (live heap ~40 MB).
CMD ["node", "--max-semi-space-size=4", "--max-old-space-size=512", "dist/cli.js", "serve"]
