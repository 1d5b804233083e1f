import type { Knex } from 'knex';
import { z } from 'zod';
import { HttpErrors, StorageErrors } from '#shared/errors/index.js';
import { defineRoute, errorCodes, type RouteContract } from '../../http/contract.js';
import { cursorParam, encodeCursor } from '../../http/cursor.js';
import { allows } from '../../middleware/koa-guard.js';
import type { Permission } from '../../auth/scopes.js';
import { BillingErrors } from '../billing/index.js';
import { ListingErrors } from '../listings/index.js';
import { reviewRejected } from './audit.js';
import { ReviewErrors } from './errors.js';
import type { ModerationHook } from './moderation.js';
import type { ReviewRow } from './queries.js';
import { createReviewService } from './service.js';

const TAG = 'reviews';
const MODERATE: Permission = { review: ['moderate'] };

const Rating = z.number().int().min(1).max(5);
const Text = z.string().trim().min(1).max(2000);
const ListingParams = z.strictObject({ listingId: z.uuid() });
const ReviewParams = z.strictObject({ id: z.uuid() });
const CreateBody = z.strictObject({ rating: Rating, body: Text });
const UpdateBody = z.strictObject({ rating: Rating.optional(), body: Text.optional() })
  .refine((b) => b.rating !== undefined || b.body !== undefined, { message: 'send rating, body or both' });

const ListQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(50).default(20), cursor: z.string().max(200).optional() });

const Review = z.object({
  id: z.uuid(),
  listingId: z.uuid(),
  rating: Rating,
  body: z.string(),
  author: z.object({ id: z.string(), name: z.string() }),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
}).meta({ id: 'Review' });
const ReviewPage = z.object({ items: z.array(Review), nextCursor: z.string().nullable() }).meta({ id: 'ReviewPage' });
// PostgreSQL refuses a NUL in stored text (shared/db/errors.ts); SQLite stores it.
const NUL = errorCodes(StorageErrors, 'UNSUPPORTED_CHARACTER');

function present(r: ReviewRow): z.infer<typeof Review> {
  return {
    id: r.id,
    listingId: r.listingId,
    rating: r.rating,
    body: r.body,
    author: { id: r.userId, name: r.authorName },
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
  };
}

/** Same rule as koa-guard: the role allows it and, for a token, a scope grants it (never for moderate). */

export function reviewRoutes(deps: { db: Knex; moderation: ModerationHook }): RouteContract[] {
  const reviews = createReviewService(deps);
  return [
    defineRoute({
      method: 'get', path: '/v1/listings/:listingId/reviews', operationId: 'listReviews', tag: TAG, access: 'public',
      summary: 'Visible reviews of a published listing, newest first',
      params: ListingParams, query: ListQuery, response: ReviewPage, status: 200, errors: [400, 401, 403, 404, 503],
      errorCodes: [...errorCodes(ListingErrors, 'LISTING_NOT_FOUND'), ...errorCodes(HttpErrors, 'INVALID_CURSOR')],
      handler: async (_ctx, { params, query }) => {
        const after = cursorParam(query.cursor);
        const page = await reviews.list(params.listingId, query.limit, after);
        return { items: page.items.map(present), nextCursor: page.next ? encodeCursor(page.next) : null };
      },
    }),
    defineRoute({
      method: 'post', path: '/v1/listings/:listingId/reviews', operationId: 'createReview', tag: TAG, access: { permission: { review: ['create'] } },
      summary: 'Review a listing you are entitled to (once)',
      params: ListingParams, body: CreateBody, response: Review, status: 201, errors: [400, 401, 403, 404, 409, 413, 415, 422, 503],
      errorCodes: [...errorCodes(ListingErrors, 'LISTING_NOT_FOUND'), ...errorCodes(BillingErrors, 'NOT_ENTITLED'), ...errorCodes(ReviewErrors, 'REVIEW_EXISTS', 'REVIEW_REJECTED'), ...NUL],
      audit: { refused: { REVIEW_REJECTED: ({ params }, error) => reviewRejected(error, params.listingId) } },
      handler: async (_ctx, { params, body, principal }) => present(await reviews.create(principal!.userId, params.listingId, body)),
    }),
    defineRoute({
      method: 'patch', path: '/v1/reviews/:id', operationId: 'updateReview', tag: TAG, access: { permission: { review: ['create'] } },
      summary: 'Edit your review',
      params: ReviewParams, body: UpdateBody, response: Review, status: 200, errors: [400, 401, 403, 404, 413, 415, 422, 503],
      errorCodes: [...errorCodes(ReviewErrors, 'REVIEW_NOT_FOUND', 'REVIEW_REJECTED'), ...NUL],
      audit: { refused: { REVIEW_REJECTED: (_input, error) => reviewRejected(error) } },
      handler: async (_ctx, { params, body, principal }) => present(await reviews.update(principal!.userId, params.id, body)),
    }),
    defineRoute({
      method: 'delete', path: '/v1/reviews/:id', operationId: 'deleteReview', tag: TAG, access: { permission: { review: ['delete'] } },
      summary: 'Delete your review (moderators: any review)',
      params: ReviewParams, response: z.null(), status: 204, errors: [400, 401, 403, 404, 503], errorCodes: errorCodes(ReviewErrors, 'REVIEW_NOT_FOUND'),
      handler: async (_ctx, { params, principal }) => {
        await reviews.remove({ userId: principal!.userId, moderator: allows(principal!, MODERATE) }, params.id);
      },
    }),
    defineRoute({
      method: 'post', path: '/v1/reviews/:id/hide', operationId: 'hideReview', tag: TAG, access: { permission: MODERATE },
      summary: 'Hide a review from the listing and its rating',
      params: ReviewParams, response: z.null(), status: 204, errors: [400, 401, 403, 404, 503], errorCodes: errorCodes(ReviewErrors, 'REVIEW_NOT_FOUND'),
      handler: async (_ctx, { params }) => {
        await reviews.hide(params.id);
      },
    }),
  ];
}
