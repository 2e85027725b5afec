# syntax=docker/dockerfile:1
# The Switchboard router as a container image.
#   docker build -t switchboard .
#   docker run --rm -p 8080:8080 switchboard                         # realm1, anonymous, ws://…:8080/ws
#   docker run --rm -p 8080:8080 -v "$PWD/examples/chat:/app/examples/chat:ro" \
#     -e SWITCHBOARD_CONFIG=/app/examples/chat/router.json switchboard    # the chat example
# docker-compose.yml runs it with the chat example behind nginx.

ARG NODE_VERSION=20

# ---- build: every dependency, TypeScript → dist/, the browser bundle --------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
# Manifests first: the dependency layer is rebuilt only when they change. npm ci checks the lock
# file against every workspace's package.json, so all of them come along (examples/ is small).
COPY package.json package-lock.json ./
COPY schemas/package.json schemas/
COPY client/package.json client/
COPY router/package.json router/
COPY bench/package.json bench/
COPY examples/ examples/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY schemas/ schemas/
COPY client/ client/
COPY router/ router/
COPY scripts/config-validator.mjs scripts/
# The config validator compiled ahead of time (issue #20: the router does not compile the schema
# at start), the router and what it imports (schemas, client), then the client's browser bundle.
RUN node scripts/config-validator.mjs && npx tsc -b router && npm run bundle -w @switchboard/client

# ---- deps: the router's production dependencies only ------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /src
COPY package.json package-lock.json ./
COPY schemas/package.json schemas/
COPY client/package.json client/
COPY router/package.json router/
COPY bench/package.json bench/
COPY examples/ examples/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund -w @switchboard/router

# ---- runtime: node, production dependencies, compiled output; no compiler, no sources --------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# node_modules/@switchboard/{schemas,client,router} are links to the folders below.
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/package.json ./
COPY --from=build /src/schemas/package.json ./schemas/
COPY --from=build /src/schemas/schema ./schemas/schema
COPY --from=build /src/schemas/dist ./schemas/dist
COPY --from=build /src/client/package.json ./client/
COPY --from=build /src/client/dist ./client/dist
COPY --from=build /src/router/package.json ./router/
COPY --from=build /src/router/bin ./router/bin
COPY --from=build /src/router/dist ./router/dist
# Everything above belongs to root and is read-only for the process, which runs as `node` (uid 1000).
USER node
EXPOSE 8080
# GET /health on the listener (PORT or SWITCHBOARD_PORT when set, else 8080); node has fetch, the image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.SWITCHBOARD_PORT || process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
# `switchboard start` reads SWITCHBOARD_CONFIG (a config file path), PORT/SWITCHBOARD_PORT and
# LOG_LEVEL from the environment; without them: realm1, anonymous, ws://0.0.0.0:8080/ws.
# SIGTERM (docker stop) sends GOODBYE wamp.close.system_shutdown to every session, then exits 0.
ENTRYPOINT ["node", "/app/router/bin/switchboard.js"]
CMD ["start"]
