import { z } from 'zod';

/** Marks a zod issue that `contract.ts` answers with 400 UNSUPPORTED_CHARACTER, not VALIDATION_FAILED. */
export const UNSUPPORTED_CHARACTER = 'UNSUPPORTED_CHARACTER';

/**
 * A UUID in its canonical form (RFC 9562 §4: hyphenated, lower-case hex). Any other spelling of
 * a UUID is lower-cased here, so every consumer (idempotency keys, lookups) compares one form
 * and `A…` cannot pass as a new key next to `a…`; anything that is not a UUID is refused.
 */
export const canonicalUuid = () => z.uuid().overwrite((s) => s.toLowerCase());

/**
 * Text without U+0000: PostgreSQL cannot store or compare it (22021) and SQLite's LIKE stops at
 * it, so `q=%00` would match everything there. Refused up front, the same on both backends.
 */
export const nulFreeString = () =>
  z.string().refine((s) => !s.includes('\u0000'), { message: 'must not contain NUL (U+0000)', params: { code: UNSUPPORTED_CHARACTER } });
