import type { ApiFeature } from '../feature.js';
import { meRoutes } from './contracts.js';

/** /v1/me: the caller as the API sees them (role from the database, token scopes, entitlements). */
export const accountFeature: ApiFeature = {
  name: 'account',
  contracts: ({ db }) => meRoutes(db),
};
