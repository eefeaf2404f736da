# One image for the three services; the command picks the service.
# Node 24 LTS, as everywhere (package.json pins it for npm ci on machines with an older Node).
FROM node:24-bookworm-slim AS build
WORKDIR /app
# gcc compiles the collector's recvmmsg addon (packages/udp-receive); only in the build stage.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY . .
RUN npm ci && npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
COPY --from=build /app /app
# The state directory (hitlist days, templates, embedded ClickHouse, reports) belongs to the
# user the services run as, so a fresh volume mounted there is writable.
RUN mkdir -p /var/lib/haystack && chown node:node /var/lib/haystack
# Batch buffers stay on the heap, not fresh mmap pages per batch (see apps/cli/bin/haystack.js).
ENV NODE_ENV=production HAYSTACK_STATE_DIR=/var/lib/haystack MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=268435456
USER node
ENTRYPOINT ["node", "apps/cli/dist/main.js"]
