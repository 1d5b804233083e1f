# syntax=docker/dockerfile:1
# Build stage: bundle the TypeScript sources into dist/ (scripts/build.ts) and keep only
# production dependencies (native addons and lazily loaded packages stay in node_modules).
FROM node:24-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles a native addon when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY shared ./shared
COPY authz-server ./authz-server
COPY resource-api ./resource-api
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

# Run stage: the bundles only, as the unprivileged `node` user.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    DATA_DIR=/app/data
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 4000 4001
# One image, two services: pick one with the command (see docker-compose.yml).
CMD ["node", "dist/authz-server/main.js"]
