import type Koa from 'koa';
import Router from '@koa/router';
import type { Container } from '#shared/container.js';
import { mountRouter } from '#shared/http/index.js';
import { createAccessTokenVerifier } from './auth/access-token.js';
import { createProofChecker } from './auth/dpop.js';
import { koaAuth } from './middleware/koa-auth.js';
import { koaCors } from './middleware/koa-cors.js';
import { koaResourceMetadataChallenge, PROTECTED_RESOURCE_METADATA_PATH } from './middleware/koa-resource-metadata.js';
import { meRoutes } from './routes/me.js';
import { wellKnownRoutes } from './routes/well-known.js';
import { registerRoutes, type RouteContract } from './http/contract.js';
import { openApiDocument } from './http/openapi.js';
import { listingRoutes } from './routes/listings.js';
import { createListingService } from './services/listings.js';
import { reviewRoutes } from './routes/reviews.js';
import { httpModeration, passThroughModeration, type ModerationHook } from './services/moderation.js';
import { billingRoutes, billingWebhookRouter } from './billing/index.js';
import { adminAuditRoutes } from './routes/admin-audit.js';
import { koaAudit } from './middleware/koa-audit.js';
import { MCP_METADATA_PATH, MCP_PATH, mcpResource, mcpRoutes } from './mcp/index.js';

export interface ResourceApi {
  auth: Koa.Middleware;
  contracts: readonly RouteContract[];
}

/** Every contract-described route of the API (also the source of /openapi.json). */
export function apiContracts(c: Pick<Container, 'db' | 'config'>, opts: { moderation?: ModerationHook } = {}): RouteContract[] {
  return [
    ...meRoutes(c.db),
    ...listingRoutes(createListingService(c.db)),
    ...reviewRoutes({ db: c.db, moderation: opts.moderation ?? passThroughModeration }),
    ...billingRoutes({ db: c.db, config: c.config }),
    ...adminAuditRoutes(c.db),
  ];
}

/** The review moderation hook the configuration asks for (none: pass-through, see docs/api.md). */
function moderationFor(c: Pick<Container, 'config' | 'logger'>): ModerationHook {
  const m = c.config.moderation;
  return m.url ? httpModeration({ url: m.url, timeoutMs: m.timeoutMs, failOpen: m.failOpen, logger: c.logger.child({ component: 'moderation' }) }) : passThroughModeration;
}

/** The resource API: CORS, discovery metadata, OpenAPI, the /v1 routes, then the MCP server at /mcp. */
export function mountResourceApi(app: Koa, c: Container, opts: { jwksCooldownMs?: number } = {}): ResourceApi {
  app.use(koaCors(c.config.frontendOrigins, [PROTECTED_RESOURCE_METADATA_PATH, MCP_METADATA_PATH]));
  // /mcp is a protected resource of its own: its challenges name its own metadata.
  app.use(koaResourceMetadataChallenge(c.config.api.audience, [MCP_PATH]));
  app.use(koaAudit(c.audit));
  const verify = createAccessTokenVerifier(c.config, opts);
  // DPoP proofs' jti are remembered in the shared cache: a proof is good once across replicas.
  const checkProof = createProofChecker(c.cache);
  const deps = { db: c.db, auth: c.auth, config: c.config, checkProof, verifyToken: (token: string) => verify(token) };
  const auth = koaAuth(deps);
  const optionalAuth = koaAuth(deps, { optional: true });
  // Access tokens (Bearer, or DPoP with a proof) for the MCP resource only; a client acting for itself passes (each tool's access rule decides).
  const mcpAuth = koaAuth({ ...deps, verifyToken: (token) => verify(token, mcpResource(c.config)) }, { clients: true, sessions: false });
  const contracts = apiContracts(c, { moderation: moderationFor(c) });
  const document = openApiDocument(contracts, c.config);
  const docs = new Router().get('/openapi.json', (ctx) => void (ctx.body = document));
  const webhook = billingWebhookRouter({ db: c.db, config: c.config, logger: c.logger, audit: c.audit });
  const mcp = mcpRoutes({ config: c.config, contracts, auth: mcpAuth, audit: c.audit, logger: c.logger.child({ component: 'mcp' }) });
  for (const router of [wellKnownRoutes(c.config), docs, webhook, registerRoutes(contracts, { auth, optionalAuth, bodyLimitBytes: c.config.http.bodyLimitBytes, audit: c.audit }), ...mcp]) {
    mountRouter(app, router);
  }
  return { auth, contracts };
}
