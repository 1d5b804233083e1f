import type { AppError } from '#shared/errors/index.js';
import type { AuditFacts } from '../../middleware/koa-audit.js';

/** review.rejected: the moderation's reason (never the text), and the listing where the path names it. */
export const reviewRejected = (error: AppError, listingId?: string): AuditFacts => ({ event: 'review.rejected', properties: { reason: error.data?.reason, listingId } });
