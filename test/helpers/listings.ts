import { randomUUID } from 'node:crypto';
import type { Knex } from '#shared/db/index.js';

export interface ListingSeed {
  publisherId: string;
  id?: string;
  /** Defaults to `listing-<id>`. */
  slug?: string;
  title?: string;
  summary?: string;
  description?: string;
  /** Charged once (EUR, minor units); default 900 = 9.00 EUR. */
  amountMinor?: number;
  /** Units granted once per purchase; default 100. */
  quotaUnits?: number;
}

/**
 * Seeds one published, one-time-priced listing row straight into `listings` (no API, no
 * publisher workflow) and returns its id.
 */
export async function insertListing(db: Knex, seed: ListingSeed): Promise<string> {
  const id = seed.id ?? randomUUID();
  const now = Date.now();
  const title = seed.title ?? 'Listing';
  await db('listings').insert({
    id, slug: seed.slug ?? `listing-${id}`, publisher_id: seed.publisherId, title, summary: seed.summary ?? title, description: seed.description ?? `${title}.`,
    status: 'published', price_type: 'one_time', price_interval: null, currency: 'EUR', amount_minor: seed.amountMinor ?? 900,
    quota_units: seed.quotaUnits ?? 100, quota_period: 'once', search_text: title.toLowerCase(), created_at: now, updated_at: now, published_at: now,
  });
  return id;
}
