import type Router from '@koa/router';
import type { Container } from '#shared/container.js';
import type { ErrorCatalog } from '#shared/errors/index.js';
import type { RouteContract, SignedRouteDoc } from '../http/contract.js';

/**
 * What a feature's contracts are built from. A database and the config are enough (the OpenAPI
 * and RBAC tests build every contract from those alone); the logger, when given, is handed to
 * what the feature calls out to (the moderation service); the change bus, when given, keeps the
 * caches it invalidates (entitlements by user) and hears what the feature changes.
 */
export type ContractDeps = Pick<Container, 'db' | 'config'> & Partial<Pick<Container, 'logger' | 'changes'>>;

/** What a route outside the contracts is built from; `worker` is its feature's, when one runs here. */
export type SignedRouteDeps = Pick<Container, 'db' | 'config' | 'logger' | 'audit'> & Partial<Pick<Container, 'changes'>> & { worker?: FeatureWorker | undefined };

/** Work a feature does in the background of each API process (the Stripe event worker). */
export interface FeatureWorker {
  /** Something for it to do was stored in this process. */
  wake(): void;
  /** Takes nothing more and waits for the work in hand (graceful shutdown). */
  stop(): Promise<void>;
}

/**
 * A route outside the contracts: signed rather than authorized, it reads its own raw body (the
 * Stripe webhook). Its doc feeds /openapi.json and declares its audit events, as a contract does.
 */
export interface SignedRoute {
  doc: SignedRouteDoc;
  router(deps: SignedRouteDeps): Router;
}

/**
 * One feature of the API, as app.ts mounts it: its contract routes (REST, MCP tools, OpenAPI),
 * the routes outside the contracts, and the error catalogs it owns. A feature folder holds its
 * contracts, service, queries, error catalog and audit rules; other features use it only through
 * what its index.ts exports.
 */
export interface ApiFeature {
  name: string;
  contracts(deps: ContractDeps): RouteContract[];
  signedRoutes?: readonly SignedRoute[];
  /** Started when the API is mounted (undefined when it is off), handed to the feature's signed routes, stopped on shutdown. */
  worker?(deps: Container): FeatureWorker | undefined;
  /** Each code lives in exactly one catalog (test/resource-api/error-catalogs.test.ts). */
  errors?: Readonly<Record<string, ErrorCatalog>>;
}
