import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { appError, isAppError } from '#shared/errors/index.js';
import { withTransaction } from '#shared/db/index.js';
import { BillingErrors, hasActiveEntitlement } from '../billing/index.js';
import { isListingPublished, ListingErrors } from '../listings/index.js';
import { ReviewErrors } from './errors.js';
import type { ModerationHook, ReviewDraft } from './moderation.js';
import * as q from './queries.js';

export interface ReviewServiceDeps {
  db: Knex;
  moderation: ModerationHook;
  /** Epoch ms; tests may pin it. */
  now?: () => number;
}

export interface ReviewContent {
  rating: number;
  body: string;
}

export type ReviewService = ReturnType<typeof createReviewService>;

/**
 * Review rules. Listings keep `rating_count`/`rating_sum` over their visible reviews; every
 * change to a review moves them in the same transaction by a relative UPDATE. Moderation runs
 * before any transaction opens, so a slow hook never holds locks (or SQLite's one connection).
 */
export function createReviewService(deps: ReviewServiceDeps) {
  const { db, moderation } = deps;
  const now = deps.now ?? Date.now;
  const notFound = () => appError(ReviewErrors, 'REVIEW_NOT_FOUND');

  async function moderate(draft: ReviewDraft): Promise<void> {
    const verdict = await moderation.check(draft);
    if (!verdict.allowed) throw appError(ReviewErrors, 'REVIEW_REJECTED', { data: { reason: verdict.reason } });
  }

  async function requirePublished(listingId: string): Promise<void> {
    if (!(await isListingPublished(db, listingId))) throw appError(ListingErrors, 'LISTING_NOT_FOUND');
  }

  return {
    /** One page of visible reviews; `next` is null on the last page. */
    async list(listingId: string, limit: number, after?: q.ReviewCursor) {
      await requirePublished(listingId);
      const rows = await q.listVisibleReviews(db, listingId, limit + 1, after);
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return { items, next: rows.length > limit && last ? { t: last.createdAt, id: last.id } : null };
    },

    async create(userId: string, listingId: string, content: ReviewContent): Promise<q.ReviewRow> {
      await requirePublished(listingId);
      if (!(await hasActiveEntitlement(db, userId, listingId))) throw appError(BillingErrors, 'NOT_ENTITLED');
      await moderate({ listingId, userId, ...content });
      const id = randomUUID();
      try {
        return await withTransaction(db, async (trx) => {
          await q.insertReview(trx, { id, listingId, userId, ...content, now: now() });
          // Unpublished since the check above: throwing rolls the insert back.
          const changed = await q.adjustListingRating(trx, listingId, 1, content.rating, { publishedOnly: true });
          if (changed === 0) throw appError(ListingErrors, 'LISTING_NOT_FOUND');
          return (await q.findReview(trx, id))!;
        });
      } catch (err) {
        // The (listing_id, user_id) unique key decides: of two racing requests exactly one wins.
        if (isAppError(err) && err.code === 'UNIQUE_VIOLATION') throw appError(ReviewErrors, 'REVIEW_EXISTS', { cause: err });
        throw err;
      }
    },

    /** Author only; anyone else learns nothing (404). The edited text is moderated again. */
    async update(userId: string, id: string, change: Partial<ReviewContent>): Promise<q.ReviewRow> {
      const current = await q.findReview(db, id, userId);
      if (!current) throw notFound();
      const next = { rating: change.rating ?? current.rating, body: change.body ?? current.body };
      await moderate({ listingId: current.listingId, userId, ...next });
      return withTransaction(db, async (trx) => {
        const locked = await q.lockReview(trx, id, userId);
        if (!locked) throw notFound(); // deleted meanwhile
        await q.updateReviewContent(trx, id, { ...next, now: now() });
        // The delta is taken against the locked row, not `current`, so racing edits add up exactly.
        if (locked.status === 'visible' && next.rating !== locked.rating) {
          await q.adjustListingRating(trx, locked.listingId, 0, next.rating - locked.rating);
        }
        return (await q.findReview(trx, id))!;
      });
    },

    /** The author, or a moderator for any review. */
    async remove(actor: { userId: string; moderator: boolean }, id: string): Promise<void> {
      await withTransaction(db, async (trx) => {
        const locked = await q.lockReview(trx, id, actor.moderator ? undefined : actor.userId);
        if (!locked) throw notFound();
        await q.deleteReview(trx, id);
        if (locked.status === 'visible') await q.adjustListingRating(trx, locked.listingId, -1, -locked.rating);
      });
    },

    /** Moderator action; hiding a hidden review again changes nothing. */
    async hide(id: string): Promise<void> {
      await withTransaction(db, async (trx) => {
        const locked = await q.lockReview(trx, id);
        if (!locked) throw notFound();
        if (locked.status === 'hidden') return;
        await q.setReviewStatus(trx, id, 'hidden');
        await q.adjustListingRating(trx, locked.listingId, -1, -locked.rating);
      });
    },
  };
}
