import { randomUUID, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { appError } from '#shared/errors/index.js';
import { translateDbError } from '#shared/db/index.js';
import { roles } from '#shared/auth/permissions.js';
import type { Principal } from '../../auth/principal.js';
import { ListingErrors } from './errors.js';
import { findListing, insertListing, listPublished, updateListing, type ListingFilter, type ListingRow, type ListingStatus } from './queries.js';
import type { ListingInput, ListingPatch } from './schemas.js';

/** Ownership and state rules of listings; routes only translate HTTP to these calls. */
export function createListingService(db: Knex) {
  const isAdmin = (p: Principal | undefined) => !!p && roles[p.role].authorize({ listing: ['suspend'] }).success;
  const canSee = (row: ListingRow, p: Principal | undefined) =>
    row.status === 'published' || (row.status !== 'deleted' && !!p && (p.userId === row.publisher_id || isAdmin(p)));

  async function load(idOrSlug: string, p: Principal | undefined): Promise<ListingRow> {
    const row = await findListing(db, idOrSlug);
    if (!row || !canSee(row, p)) throw appError(ListingErrors, 'LISTING_NOT_FOUND');
    return row;
  }

  /** The owner (or, where `adminToo`, an admin) may act; others learn nothing about drafts. */
  async function loadOwned(id: string, p: Principal, adminToo: boolean): Promise<ListingRow> {
    const row = await load(id, p);
    if (row.publisher_id !== p.userId && !(adminToo && isAdmin(p))) throw appError(ListingErrors, 'NOT_LISTING_OWNER');
    return row;
  }

  async function transition(row: ListingRow, from: ListingStatus[], changes: Partial<ListingRow>): Promise<ListingRow> {
    if (row.status === 'suspended' && !from.includes('suspended')) throw appError(ListingErrors, 'LISTING_SUSPENDED');
    if (!from.includes(row.status)) throw appError(ListingErrors, 'INVALID_TRANSITION');
    const updated = await updateListing(db, row.id, from, { ...changes, updated_at: Date.now() });
    if (updated === 0) throw appError(ListingErrors, 'INVALID_TRANSITION'); // changed concurrently
    return (await findListing(db, row.id))!;
  }

  return {
    get: load,

    list: (filter: ListingFilter) => listPublished(db, filter),

    async create(input: ListingInput, p: Principal): Promise<ListingRow> {
      const now = Date.now();
      const row: ListingRow = {
        id: randomUUID(),
        slug: input.slug ?? `${slugify(input.title)}-${randomBytes(3).toString('hex')}`,
        publisher_id: p.userId,
        title: input.title,
        summary: input.summary,
        description: input.description,
        status: 'draft',
        price_type: input.price.type,
        price_interval: input.price.type === 'recurring' ? input.price.interval! : null,
        currency: input.price.currency,
        amount_minor: input.price.amountMinor,
        quota_units: input.quota.units,
        quota_period: input.quota.period,
        rating_count: 0,
        rating_sum: 0,
        search_text: searchText(input.title, input.summary, input.description),
        created_at: now,
        updated_at: now,
        published_at: null,
        deleted_at: null,
      };
      try {
        await insertListing(db, row);
      } catch (err) {
        const e = translateDbError(err) as { code?: string };
        if (e.code === 'UNIQUE_VIOLATION') throw appError(ListingErrors, 'SLUG_TAKEN');
        throw e;
      }
      return row;
    },

    async update(id: string, patch: ListingPatch, p: Principal): Promise<ListingRow> {
      const row = await loadOwned(id, p, true);
      const merged = { title: patch.title ?? row.title, summary: patch.summary ?? row.summary, description: patch.description ?? row.description };
      const price = patch.price;
      return transition(row, ['draft', 'published'], {
        ...merged,
        ...(price ? { price_type: price.type, price_interval: price.type === 'recurring' ? price.interval! : null, currency: price.currency, amount_minor: price.amountMinor } : {}),
        ...(patch.quota ? { quota_units: patch.quota.units, quota_period: patch.quota.period } : {}),
        search_text: searchText(merged.title, merged.summary, merged.description),
      });
    },

    async publish(id: string, p: Principal) {
      const row = await loadOwned(id, p, false);
      return transition(row, ['draft'], { status: 'published', published_at: Date.now() });
    },

    async unpublish(id: string, p: Principal) {
      return transition(await loadOwned(id, p, false), ['published'], { status: 'draft', published_at: null });
    },

    async remove(id: string, p: Principal): Promise<void> {
      await transition(await loadOwned(id, p, true), ['draft', 'published', 'suspended'], { status: 'deleted', deleted_at: Date.now() });
    },

    async suspend(id: string, p: Principal) {
      return transition(await load(id, p), ['draft', 'published'], { status: 'suspended' });
    },
  };
}

export type ListingService = ReturnType<typeof createListingService>;

function slugify(title: string): string {
  const s = title.normalize('NFKD').replace(/[^\w\s-]/g, '').trim().toLowerCase().replace(/[\s_-]+/g, '-').slice(0, 60);
  return s.replace(/^-+|-+$/g, '') || 'listing';
}

function searchText(...parts: string[]): string {
  return parts.join('\n').toLowerCase();
}
