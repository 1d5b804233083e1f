import { z } from 'zod';
import { HttpErrors, StorageErrors } from '#shared/errors/index.js';
import { defineRoute, errorCodes, type ErrorCodeRef, type RouteContract } from '../../http/contract.js';
import { cursorParam, encodeCursor } from '../../http/cursor.js';
import type { Permission } from '../../auth/scopes.js';
import type { Principal } from '../../auth/principal.js';
import type { AuditFacts } from '../../middleware/koa-audit.js';
import { listingAudit } from './audit.js';
import { ListingErrors } from './errors.js';
import type { ListingRow } from './queries.js';
import { listingInput, listingPage, listingPatch, listingSearch, listingView } from './schemas.js';
import type { ListingService } from './service.js';

const iso = (t: number | string | null) => (t === null ? null : new Date(Number(t)).toISOString());

export function toListingView(r: ListingRow): z.infer<typeof listingView> {
  return {
    id: r.id,
    slug: r.slug,
    status: r.status as 'draft' | 'published' | 'suspended',
    title: r.title,
    summary: r.summary,
    description: r.description,
    publisherId: r.publisher_id,
    price: { type: r.price_type, interval: r.price_interval, currency: r.currency, amountMinor: Number(r.amount_minor) },
    quota: { units: Number(r.quota_units), period: r.quota_period },
    rating: { count: Number(r.rating_count), average: Number(r.rating_count) ? Math.round((Number(r.rating_sum) / Number(r.rating_count)) * 100) / 100 : null },
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
    publishedAt: iso(r.published_at),
  };
}

const idParam = z.strictObject({ id: z.uuid() });
const idOrSlug = z.strictObject({ idOrSlug: z.string().min(1).max(80).regex(/^[A-Za-z0-9-]+$/) });
// PostgreSQL refuses a NUL in stored text (shared/db/errors.ts); SQLite stores it.
const NUL = errorCodes(StorageErrors, 'UNSUPPORTED_CHARACTER');
const OWNED = errorCodes(ListingErrors, 'LISTING_NOT_FOUND', 'NOT_LISTING_OWNER', 'LISTING_SUSPENDED', 'INVALID_TRANSITION');

/** /v1/listings: the public catalogue and publishers' management of their listings. */
export function listingRoutes(listings: ListingService): RouteContract[] {
  return [
    defineRoute({
      method: 'get', path: '/v1/listings', operationId: 'listListings', summary: 'Published listings, newest first', tag: 'listings', access: 'public',
      query: listingSearch,
      response: listingPage, status: 200, errors: [400, 401, 403, 503],
      errorCodes: [...errorCodes(StorageErrors, 'UNSUPPORTED_CHARACTER'), ...errorCodes(HttpErrors, 'INVALID_CURSOR')],
      handler: async (_ctx, { query }) => {
        const after = cursorParam(query.cursor);
        const rows = await listings.list({ q: query.q, publisherId: query.publisher, priceType: query.priceType, after, limit: query.limit + 1 });
        const page = rows.slice(0, query.limit);
        const last = page.at(-1);
        return { items: page.map(toListingView), nextCursor: rows.length > query.limit && last ? encodeCursor({ t: Number(last.published_at), id: last.id }) : null };
      },
    }),
    defineRoute({
      method: 'get', path: '/v1/listings/:idOrSlug', operationId: 'getListing', summary: 'One listing by id or slug (drafts only for their publisher and admins)', tag: 'listings', access: 'public',
      params: idOrSlug, response: listingView, status: 200, errors: [400, 401, 403, 404, 503], errorCodes: errorCodes(ListingErrors, 'LISTING_NOT_FOUND'),
      handler: async (_ctx, { params, principal }) => toListingView(await listings.get(params.idOrSlug, principal)),
    }),
    defineRoute({
      method: 'post', path: '/v1/listings', operationId: 'createListing', summary: 'Create a draft listing', tag: 'listings', access: { permission: { listing: ['create'] } },
      body: listingInput, response: listingView, status: 201, errors: [400, 401, 403, 409, 413, 415, 503],
      errorCodes: [...errorCodes(ListingErrors, 'SLUG_TAKEN'), ...NUL],
      handler: async (_ctx, { body, principal }) => toListingView(await listings.create(body, principal!)),
    }),
    defineRoute({
      method: 'patch', path: '/v1/listings/:id', operationId: 'updateListing', summary: 'Edit a listing (publisher or admin)', tag: 'listings', access: { permission: { listing: ['update'] } },
      params: idParam, body: listingPatch, response: listingView, status: 200, errors: [400, 401, 403, 404, 409, 413, 415, 503],
      errorCodes: [...OWNED, ...NUL],
      handler: async (_ctx, { params, body, principal }) => toListingView(await listings.update(params.id, body, principal!)),
    }),
    ...(
      [
        ['publish', 'publishListing', 'Publish a draft', { listing: ['publish'] }, listings.publish, OWNED, listingAudit.published],
        ['unpublish', 'unpublishListing', 'Return a published listing to draft', { listing: ['publish'] }, listings.unpublish, OWNED, undefined],
        ['suspend', 'suspendListing', 'Suspend a listing (admin)', { listing: ['suspend'] }, listings.suspend,
          errorCodes(ListingErrors, 'LISTING_NOT_FOUND', 'LISTING_SUSPENDED', 'INVALID_TRANSITION'), listingAudit.suspended],
      ] satisfies [string, string, string, Permission, (id: string, p: Principal) => Promise<ListingRow>, ErrorCodeRef[], ((id: string) => AuditFacts) | undefined][]
    ).map(([action, operationId, summary, permission, run, codes, audited]) =>
      defineRoute({
        method: 'post', path: `/v1/listings/:id/${action}`, operationId, summary, tag: 'listings', access: { permission },
        params: idParam, response: listingView, status: 200, errors: [400, 401, 403, 404, 409, 503], errorCodes: codes,
        audit: audited && { success: ({ params }) => audited(params.id) },
        handler: async (_ctx, { params, principal }) => toListingView(await run(params.id, principal!)),
      }),
    ),
    defineRoute({
      method: 'delete', path: '/v1/listings/:id', operationId: 'deleteListing', summary: 'Delete a listing (soft; publisher or admin)', tag: 'listings', access: { permission: { listing: ['delete'] } },
      params: idParam, response: z.null(), status: 204, errors: [400, 401, 403, 404, 409, 503],
      errorCodes: errorCodes(ListingErrors, 'LISTING_NOT_FOUND', 'NOT_LISTING_OWNER', 'INVALID_TRANSITION'),
      handler: async (_ctx, { params, principal }) => listings.remove(params.id, principal!),
    }),
  ];
}
