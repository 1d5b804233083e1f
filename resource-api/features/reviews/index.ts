import type { ApiFeature, ContractDeps } from '../feature.js';
import { reviewRoutes } from './contracts.js';
import { ReviewErrors } from './errors.js';
import { httpModeration, passThroughModeration, type ModerationHook } from './moderation.js';

/** The review moderation hook the configuration asks for (none: pass-through, see docs/api.md). */
function moderationFor({ config, logger }: ContractDeps): ModerationHook {
  const m = config.moderation;
  if (!m.url) return passThroughModeration;
  return httpModeration({ url: m.url, timeoutMs: m.timeoutMs, failOpen: m.failOpen, ...(logger ? { logger: logger.child({ component: 'moderation' }) } : {}) });
}

/** /v1/listings/:listingId/reviews and /v1/reviews: reviews by entitled buyers, moderated before they are stored. */
export const reviewsFeature: ApiFeature = {
  name: 'reviews',
  contracts: (deps) => reviewRoutes({ db: deps.db, moderation: moderationFor(deps) }),
  errors: { ReviewErrors },
};

export { reviewRoutes } from './contracts.js';
export { ReviewErrors } from './errors.js';
export { httpModeration, passThroughModeration, type ModerationHook, type ReviewDraft } from './moderation.js';
