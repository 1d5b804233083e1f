import type { ApiFeature } from '../feature.js';
import { usageRoutes } from './contracts.js';
import { UsageErrors } from './errors.js';
import { createUsageService } from './service.js';

/** /v1/usage: usage reported against the quotas of billing's entitlements, idempotent per clientReqId. */
export const usageFeature: ApiFeature = {
  name: 'usage',
  contracts: ({ db }) => usageRoutes(createUsageService({ db })),
  errors: { UsageErrors },
};

export { UsageErrors } from './errors.js';
