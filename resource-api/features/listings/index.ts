import type { ApiFeature } from '../feature.js';
import { listingRoutes } from './contracts.js';
import { ListingErrors } from './errors.js';
import { createListingService } from './service.js';

/** /v1/listings: the public catalogue and publishers' management of their listings. */
export const listingsFeature: ApiFeature = {
  name: 'listings',
  contracts: ({ db }) => listingRoutes(createListingService(db)),
  errors: { ListingErrors },
};

// What other features may use: the catalog's LISTING_NOT_FOUND (one answer for an unseen
// listing everywhere) and the lookups billing, usage and reviews make.
export { ListingErrors } from './errors.js';
export { findListing, isListingPublished, listingExists, type ListingRow } from './queries.js';
