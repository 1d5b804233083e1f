/**
 * SQL text with named parameters (`$name`), compiled once to knex's positional `?`. A name may
 * appear any number of times; each occurrence becomes its own parameter, so PostgreSQL infers its
 * type where it stands (a value that no column types needs a CAST). No other `$` may appear.
 */
export interface Compiled<P> {
  /** The text with `?` placeholders, as knex takes it (knex numbers them `$1…$n` for pg). */
  sql: string;
  /** The values in placeholder order. */
  bindings(values: P): unknown[];
}

export function compile<P extends object>(text: string): Compiled<P> {
  const names: (keyof P & string)[] = [];
  const sql = text.replace(/\$([a-z]\w*)/gi, (_, name: keyof P & string) => {
    names.push(name);
    return '?';
  });
  return {
    sql,
    bindings: (values) => names.map((n) => {
      const value: unknown = values[n];
      if (value === undefined) throw new Error(`SQL parameter $${n} has no value`);
      return value;
    }),
  };
}

/**
 * Which entitlement a report consumes, in one vocabulary for both backends and both paths (the
 * one statement on PostgreSQL, the transaction on SQLite). Parameters: $units, $now.
 *
 * USABLE: enough quota left in a current period. A subscription's quota stays usable past
 * period_end until the next paid invoice renews it (Stripe charges renewals up to about an hour
 * after the period starts).
 */
export const USABLE = '(quota_remaining >= $units AND (period_end IS NULL OR period_end > $now OR stripe_subscription_id IS NOT NULL))';

/**
 * DUE: a one-time purchase with a monthly or yearly quota whose period has ended; it is rolled
 * over (rules.ts `duePeriod`, the same test) before it is used.
 */
export const DUE = "(stripe_subscription_id IS NULL AND period_end IS NOT NULL AND period_end <= $now AND quota_period IN ('month', 'year'))";

/** The order candidates are tried in: the one closest to its period end first. */
export const CANDIDATE_ORDER = 'CASE WHEN period_end IS NULL THEN 1 ELSE 0 END, period_end, granted_at, id';
