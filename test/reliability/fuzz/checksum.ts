import { createHash } from 'node:crypto';
import type { Knex } from 'knex';

/**
 * The business tables whose content a rejected request must never change. Excluded, because
 * they legitimately change while requests are refused:
 * - `audit_log`: refusals are audit events (rate limits, rejected reviews, webhook refusals);
 * - `session`, `verification`: better-auth sessions (the fuzzer's own sign-in, expiry refresh)
 *   and verification tokens;
 * - `oidc_models`: interactions, sessions and grants oidc-provider writes for every /auth;
 * - `knex_migrations*`: the migrator's bookkeeping.
 */
export const BUSINESS_TABLES = [
  'user', 'account', 'twoFactor', 'oauth_clients', 'listings', 'reviews', 'entitlements',
  'usage_records', 'billing_customers', 'billing_refunds', 'stripe_events',
] as const;

/** Per table: row count and a SHA-256 over the rows (order-independent, every column). */
export async function checksum(db: Knex): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of BUSINESS_TABLES) {
    const rows: Record<string, unknown>[] = await db(table).select('*');
    const lines = rows.map((r) => JSON.stringify(Object.keys(r).sort().map((k) => [k, r[k] instanceof Date ? (r[k] as Date).toISOString() : r[k]]))).sort();
    out[table] = `${rows.length}:${createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16)}`;
  }
  return out;
}
