import { createBusCache } from '#shared/bus/bus-cache.js';
import type { ApiFeature } from '../feature.js';
import { meRoutes } from './contracts.js';

/** Entitlement lists cached per process: one per active person. */
const MAX_CACHED = 10_000;

/** /v1/me: the caller as the API sees them (role from the database, token scopes, entitlements). */
export const accountFeature: ApiFeature = {
  name: 'account',
  contracts: ({ db, config, changes }) =>
    meRoutes(db, changes && createBusCache(changes, { max: MAX_CACHED, maxAgeMs: config.bus.cacheMaxAgeMs, invalidates: (c) => (c.type === 'entitlements.changed' ? c.userId : undefined) })),
};
