/**
 * The floor of `POST /v1/usage` through our own stack: the resource API's process as
 * resource-api/main.ts boots it (runService: request id, access log, error handler, drain,
 * security headers, health, metrics; then CORS, the RFC 9728 challenge, koa-auth with the change
 * bus, the contract's body parsing, zod validation and audit edge), serving the real usage
 * contract (resource-api/features/usage/contracts.ts) whose service answers from memory: no
 * database statement per request. The gap between this and the real route is the database's;
 * between this and a bare Koa handler, our middleware's. Env: the resource API's.
 */
import { randomUUID } from 'node:crypto';
import { runService } from '#shared/boot/run-service.js';
import { mountRouter } from '#shared/http/index.js';
import { createAccessTokenVerifier } from '#api/auth/access-token.js';
import { createAccessState } from '#api/auth/access-state.js';
import { createProofChecker } from '#api/auth/dpop.js';
import { registerRoutes } from '#api/http/contract.js';
import { koaAuth } from '#api/middleware/koa-auth.js';
import { koaCors } from '#api/middleware/koa-cors.js';
import { koaResourceMetadataChallenge } from '#api/middleware/koa-resource-metadata.js';
import { usageRoutes } from '#api/features/usage/contracts.js';
import { resultOf } from '#api/features/usage/rules.js';
import type { UsageService } from '#api/features/usage/service.js';

/** What the real service would answer to a first report, without storing or consuming anything. */
const inMemory: UsageService = {
  report: async (userId, input) => resultOf({ ...input, id: randomUUID(), userId, at: Date.now() }, { id: 'bench-entitlement', remaining: 1_000_000, periodEnd: null }),
  quotas: async () => [],
};

await runService({
  name: 'resource-api',
  port: (c) => c.api.port,
  publicUrl: (c) => c.api.audience,
  mount: (app, c) => {
    app.use(koaCors(c.config.frontendOrigins));
    app.use(koaResourceMetadataChallenge(c.config.api.audience));
    const verify = createAccessTokenVerifier(c.config);
    const deps = { db: c.db, access: createAccessState(c.db, c.config, c.changes), auth: c.auth, config: c.config, checkProof: createProofChecker(c.cache), verifyToken: (t: string) => verify(t) };
    const routes = registerRoutes(usageRoutes(inMemory), { auth: koaAuth(deps), optionalAuth: koaAuth(deps, { optional: true }), bodyLimitBytes: c.config.http.bodyLimitBytes, audit: c.audit });
    mountRouter(app, routes);
  },
});
