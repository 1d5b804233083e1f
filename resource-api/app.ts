import type Koa from 'koa';
import Router from '@koa/router';
import type { Container } from '#shared/container.js';
import { mountRouter } from '#shared/http/index.js';
import { createAccessTokenVerifier } from './auth/access-token.js';
import { createProofChecker } from './auth/dpop.js';
import { createAccessState } from './auth/access-state.js';
import { registerBusMetrics } from '#shared/bus/metrics.js';
import { koaAuth } from './middleware/koa-auth.js';
import { koaCors } from './middleware/koa-cors.js';
import { koaResourceMetadataChallenge, PROTECTED_RESOURCE_METADATA_PATH } from './middleware/koa-resource-metadata.js';
import { wellKnownRoutes } from './well-known.js';
import { registerRoutes, type RouteContract } from './http/contract.js';
import { openApiDocument } from './http/openapi.js';
import type { ApiFeature, ContractDeps } from './features/feature.js';
import { accountFeature } from './features/account/index.js';
import { listingsFeature } from './features/listings/index.js';
import { reviewsFeature } from './features/reviews/index.js';
import { billingFeature } from './features/billing/index.js';
import { usageFeature } from './features/usage/index.js';
import { adminAuditFeature } from './features/admin-audit/index.js';
import { MCP_METADATA_PATH, MCP_PATH, mcpResource, mcpRoutes } from './mcp/index.js';

export interface ResourceApi {
  auth: Koa.Middleware;
  contracts: readonly RouteContract[];
  /** Stops the features' background workers (runService calls it on shutdown, before the pool closes). */
  close(): Promise<void>;
}

/** The features the API mounts, in the order their routes are registered and documented. */
export const FEATURES: readonly ApiFeature[] = [accountFeature, listingsFeature, reviewsFeature, billingFeature, usageFeature, adminAuditFeature];

/** Every contract-described route of the API (also the source of /openapi.json). */
export function apiContracts(c: ContractDeps): RouteContract[] {
  return FEATURES.flatMap((f) => f.contracts(c));
}

/** The resource API: CORS, discovery metadata, OpenAPI, the /v1 routes, then the MCP server at /mcp. */
export function mountResourceApi(app: Koa, c: Container, opts: { jwksCooldownMs?: number } = {}): ResourceApi {
  app.use(koaCors(c.config.frontendOrigins, [PROTECTED_RESOURCE_METADATA_PATH, MCP_METADATA_PATH]));
  // /mcp is a protected resource of its own: its challenges name its own metadata.
  app.use(koaResourceMetadataChallenge(c.config.api.audience, [MCP_PATH]));
  const verify = createAccessTokenVerifier(c.config, opts);
  // DPoP proofs' jti are remembered in the shared cache: a proof is good once across replicas.
  const checkProof = createProofChecker(c.cache);
  // Revocations, role and ban: in memory while the change bus vouches for them, else the database.
  const access = createAccessState(c.db, c.config, c.changes);
  registerBusMetrics(c.metrics.registry, c.changes, access.verdicts);
  const deps = { db: c.db, access, auth: c.auth, config: c.config, checkProof, verifyToken: (token: string) => verify(token) };
  const auth = koaAuth(deps);
  const optionalAuth = koaAuth(deps, { optional: true });
  // Access tokens (Bearer, or DPoP with a proof) for the MCP resource only; a client acting for itself passes (each tool's access rule decides).
  const mcpAuth = koaAuth({ ...deps, verifyToken: (token) => verify(token, mcpResource(c.config)) }, { clients: true, sessions: false });
  const contracts = apiContracts(c);
  const workers = new Map(FEATURES.map((f) => [f, f.worker?.(c)] as const));
  const signed = FEATURES.flatMap((f) => (f.signedRoutes ?? []).map((s) => ({ ...s, worker: workers.get(f) })));
  const document = openApiDocument(contracts, c.config, signed.map((s) => s.doc));
  const docs = new Router().get('/openapi.json', (ctx) => void (ctx.body = document));
  const mcp = mcpRoutes({ config: c.config, contracts, auth: mcpAuth, audit: c.audit, logger: c.logger.child({ component: 'mcp' }) });
  const routers = [wellKnownRoutes(c.config), docs, ...signed.map((s) => s.router({ ...c, worker: s.worker })), registerRoutes(contracts, { auth, optionalAuth, bodyLimitBytes: c.config.http.bodyLimitBytes, audit: c.audit }), ...mcp];
  for (const router of routers) {
    mountRouter(app, router);
  }
  return {
    auth,
    contracts,
    async close() {
      await Promise.all([...workers.values()].map((w) => w?.stop()));
    },
  };
}
