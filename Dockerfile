# syntax=docker/dockerfile:1
# One image for the API, the worker, the sandbox and the Temporal setup: the command decides.
#   docker run IMAGE                                   -> the API (node dist/bin/api.js)
#   docker run IMAGE node dist/bin/worker.js           -> a worker (loads the prebuilt workflow bundle)
#   docker run IMAGE node dist/bin/sandbox.js          -> the stand-in external systems
#   docker run IMAGE node dist/scripts/setup-temporal.js  -> namespace and search attributes, then exit

ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# Compiles TypeScript to dist/ and bundles the workflows (plain and traced) into dist/bundle/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY domain domain
COPY payment-provider payment-provider
COPY workflows workflows
COPY activities activities
COPY api api
COPY worker worker
COPY sandbox sandbox
COPY config config
COPY codec codec
COPY observability observability
COPY stack stack
COPY bin bin
COPY scripts scripts
RUN npm run build

# Production dependencies only.
FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# The image's own Node is the runtime: the registry's copy of it (an optional dependency, for machines whose
# Node is older) would only add 120 MB.
RUN npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/node-linux-* node_modules/.bin/node \
 && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    WORKFLOW_BUNDLE=/app/dist/bundle/workflows.js \
    WORKER_METRICS_HOST=0.0.0.0
WORKDIR /app
COPY --from=dependencies /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
# The image's own unprivileged user; nothing under /app is writable by it.
USER node
EXPOSE 3000 4000 9464
CMD ["node", "dist/bin/api.js"]
