import type { Knex } from 'knex';

export type ReviewStatus = 'visible' | 'hidden';

export interface ReviewRow {
  id: string;
  listingId: string;
  userId: string;
  authorName: string;
  rating: number;
  body: string;
  status: ReviewStatus;
  createdAt: number;
  updatedAt: number;
}

/** Position in the newest-first order: the last row's (created_at, id). */
export interface ReviewCursor {
  t: number;
  id: string;
}

const COLUMNS = [
  'r.id', 'r.listing_id as listingId', 'r.user_id as userId', 'u.name as authorName', 'r.rating', 'r.body', 'r.status',
  'r.created_at as createdAt', 'r.updated_at as updatedAt',
];

function withAuthor(db: Knex) {
  return db({ r: 'reviews' }).join({ u: 'user' }, 'u.id', 'r.user_id').select(COLUMNS);
}

// pg returns bigint columns as strings.
function toRow(raw: Record<string, unknown>): ReviewRow {
  return { ...(raw as unknown as ReviewRow), rating: Number(raw.rating), createdAt: Number(raw.createdAt), updatedAt: Number(raw.updatedAt) };
}

/**
 * One page of a listing's visible reviews, newest first. Keyset pagination on
 * (created_at, id): a review inserted meanwhile sorts before the cursor, so pages after it
 * neither repeat nor skip older ones (an offset would shift).
 */
export async function listVisibleReviews(db: Knex, listingId: string, limit: number, after?: ReviewCursor): Promise<ReviewRow[]> {
  const q = withAuthor(db)
    .where({ 'r.listing_id': listingId, 'r.status': 'visible' })
    .orderBy([{ column: 'r.created_at', order: 'desc' }, { column: 'r.id', order: 'desc' }])
    .limit(limit);
  if (after) q.andWhere((w) => w.where('r.created_at', '<', after.t).orWhere((x) => x.where('r.created_at', after.t).andWhere('r.id', '<', after.id)));
  return (await q).map(toRow);
}

export async function findReview(db: Knex, id: string, ownerId?: string): Promise<ReviewRow | undefined> {
  const q = withAuthor(db).where('r.id', id);
  if (ownerId !== undefined) q.andWhere('r.user_id', ownerId);
  const raw = await q.first();
  return raw ? toRow(raw) : undefined;
}

/**
 * Reads a review for a change inside `trx`, row-locked on PostgreSQL so a concurrent edit or
 * delete waits and then sees this one's result (the delta applied to the aggregates is then
 * exact). knex compiles FOR UPDATE to nothing on SQLite, whose writers are already serialised.
 */
export async function lockReview(trx: Knex.Transaction, id: string, ownerId?: string): Promise<Pick<ReviewRow, 'id' | 'listingId' | 'userId' | 'rating' | 'status'> | undefined> {
  const q = trx('reviews').select('id', 'listing_id as listingId', 'user_id as userId', 'rating', 'status').where({ id }).forUpdate();
  if (ownerId !== undefined) q.andWhere({ user_id: ownerId });
  const raw = await q.first();
  return raw ? { ...raw, rating: Number(raw.rating) } : undefined;
}

export async function insertReview(trx: Knex.Transaction, r: { id: string; listingId: string; userId: string; rating: number; body: string; now: number }): Promise<void> {
  await trx('reviews').insert({
    id: r.id, listing_id: r.listingId, user_id: r.userId, rating: r.rating, body: r.body, status: 'visible', created_at: r.now, updated_at: r.now,
  });
}

export async function updateReviewContent(trx: Knex.Transaction, id: string, c: { rating: number; body: string; now: number }): Promise<void> {
  await trx('reviews').where({ id }).update({ rating: c.rating, body: c.body, updated_at: c.now });
}

/** Moderation changes visibility only: `updated_at` keeps meaning "the author last edited". */
export async function setReviewStatus(trx: Knex.Transaction, id: string, status: ReviewStatus): Promise<void> {
  await trx('reviews').where({ id }).update({ status });
}

export async function deleteReview(trx: Knex.Transaction, id: string): Promise<void> {
  await trx('reviews').where({ id }).del();
}

/**
 * Moves a listing's rating aggregates by a delta in one relative UPDATE, so concurrent
 * writers cannot overwrite each other's increments (a read-then-write would lose some).
 * `publishedOnly` makes a listing unpublished meanwhile match nothing. Returns rows changed.
 */
export async function adjustListingRating(trx: Knex.Transaction, listingId: string, dCount: number, dSum: number, opts: { publishedOnly?: boolean } = {}): Promise<number> {
  const q = trx('listings').where({ id: listingId });
  if (opts.publishedOnly) q.andWhere({ status: 'published' });
  return q.update({ rating_count: trx.raw('rating_count + ?', [dCount]), rating_sum: trx.raw('rating_sum + ?', [dSum]) });
}
