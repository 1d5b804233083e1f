import type { Knex } from 'knex';

export type ListingStatus = 'draft' | 'published' | 'suspended' | 'deleted';

export interface ListingRow {
  id: string;
  slug: string;
  publisher_id: string;
  title: string;
  summary: string;
  description: string;
  status: ListingStatus;
  price_type: 'one_time' | 'recurring';
  price_interval: 'month' | 'year' | null;
  currency: string;
  amount_minor: number;
  quota_units: number;
  quota_period: 'month' | 'year' | 'once';
  rating_count: number;
  rating_sum: number;
  search_text: string;
  created_at: number | string;
  updated_at: number | string;
  published_at: number | string | null;
  deleted_at: number | string | null;
}

const TABLE = 'listings';

export async function insertListing(db: Knex, row: ListingRow): Promise<void> {
  await db(TABLE).insert(row);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID is looked up as an id, anything else as a slug (slugs can never be UUID-shaped). */
export async function findListing(db: Knex, idOrSlug: string): Promise<ListingRow | undefined> {
  return db(TABLE).where(UUID.test(idOrSlug) ? 'id' : 'slug', idOrSlug).first();
}

/** Whether a listing row exists in any state (listings are only ever soft-deleted). */
export async function listingExists(db: Knex, id: string): Promise<boolean> {
  return (await db(TABLE).where('id', id).first('id')) !== undefined;
}

/** Whether the listing is published now (reviews are only read and written for those). */
export async function isListingPublished(db: Knex, id: string): Promise<boolean> {
  return (await db(TABLE).select('id').where({ id, status: 'published' }).first()) !== undefined;
}

export async function updateListing(db: Knex, id: string, expected: ListingStatus[], changes: Partial<ListingRow>): Promise<number> {
  return db(TABLE).where('id', id).whereIn('status', expected).update(changes);
}

export interface ListingFilter {
  q?: string;
  publisherId?: string;
  priceType?: 'one_time' | 'recurring';
  after?: { t: number; id: string };
  limit: number;
}

/** Published listings, newest first, keyset-paginated on (published_at, id). */
export async function listPublished(db: Knex, f: ListingFilter): Promise<ListingRow[]> {
  const q = db(TABLE).where('status', 'published');
  // search_text is stored lower-cased; LIKE wildcards in the query are matched literally.
  if (f.q) q.andWhereRaw("search_text like ? escape '\\'", [`%${f.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`]);
  if (f.publisherId) q.andWhere('publisher_id', f.publisherId);
  if (f.priceType) q.andWhere('price_type', f.priceType);
  if (f.after) {
    const { t, id } = f.after;
    q.andWhere((w) => w.where('published_at', '<', t).orWhere((e) => e.where('published_at', '=', t).andWhere('id', '<', id)));
  }
  return q.orderBy([{ column: 'published_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(f.limit);
}
