import { z } from 'zod';
import { nulFreeString } from '../../http/fields.js';

const price = z
  .strictObject({
    type: z.enum(['one_time', 'recurring']),
    interval: z.enum(['month', 'year']).optional(),
    currency: z.string().regex(/^[A-Z]{3}$/, { message: 'ISO 4217 code in capitals, e.g. USD' }),
    amountMinor: z.number().int().min(0).max(100_000_000),
  })
  .refine((p) => (p.type === 'recurring') === (p.interval !== undefined), { message: 'interval is required for recurring prices and only for them', path: ['interval'] });

const quota = z.strictObject({ units: z.number().int().min(0).max(1_000_000_000), period: z.enum(['month', 'year', 'once']) });

const text = (min: number, max: number) => z.string().trim().min(min).max(max);

export const listingInput = z.strictObject({
  title: text(3, 120),
  summary: text(1, 280),
  description: text(0, 10_000).default(''),
  slug: z
    .string()
    .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, { message: 'lower-case letters, digits and single dashes' })
    .refine((s) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s), { message: 'a slug cannot look like a listing id' })
    .min(3)
    .max(80)
    .optional(),
  price,
  quota,
});

export const listingPatch = z
  .strictObject({ title: text(3, 120), summary: text(1, 280), description: text(0, 10_000), price, quota })
  .partial()
  .refine((p) => Object.keys(p).length > 0, { message: 'nothing to change' });

/**
 * The catalogue search. Every text input is NUL-free (400 UNSUPPORTED_CHARACTER): SQLite's LIKE
 * stops at a NUL, so `q=%00` would otherwise match every listing, and PostgreSQL refuses it.
 */
export const listingSearch = z.strictObject({
  q: nulFreeString().trim().min(1).max(100).optional(),
  publisher: nulFreeString().min(1).max(64).optional(),
  priceType: z.enum(['one_time', 'recurring']).optional(),
  limit: z.coerce.number().int().min(1).max(50).default(20),
  cursor: nulFreeString().max(200).optional(),
});

export type ListingInput = z.output<typeof listingInput>;
export type ListingPatch = z.output<typeof listingPatch>;

export const listingView = z.object({
  id: z.uuid(),
  slug: z.string(),
  status: z.enum(['draft', 'published', 'suspended']),
  title: z.string(),
  summary: z.string(),
  description: z.string(),
  publisherId: z.string(),
  price: z.object({ type: z.enum(['one_time', 'recurring']), interval: z.enum(['month', 'year']).nullable(), currency: z.string(), amountMinor: z.number().int() }),
  quota: z.object({ units: z.number().int(), period: z.enum(['month', 'year', 'once']) }),
  rating: z.object({ count: z.number().int(), average: z.number().nullable() }),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  publishedAt: z.iso.datetime().nullable(),
}).meta({ id: 'Listing' });

export const listingPage = z.object({ items: z.array(listingView), nextCursor: z.string().nullable() }).meta({ id: 'ListingPage' });
