import type { Knex } from 'knex';
import { translateDbError } from '#shared/db/index.js';
import type { Claim, ReportOutcome } from './rules.js';
import { CANDIDATE_ORDER, compile, DUE, USABLE } from './sql.js';

/** The name the statement is prepared under on each pooled connection (pg: one text per name). */
const PREPARED = 'usage_report_v1';

/** `usage_records (user_id, client_req_id)` (0006_billing): the constraint two claims of one key race on. */
const CLAIM_KEY = 'usage_records_user_request_unique';

/**
 * A usage report on PostgreSQL in one statement (one round trip, no BEGIN/COMMIT): look for an
 * earlier use of the clientReqId, pick the entitlement to consume from, consume with a
 * conditional UPDATE, insert the claim carrying its answer (built here, in the JSON that
 * rules.ts `resultOf` builds), and say what happened.
 *
 * Every sub-statement sees the snapshot taken when the statement began, so:
 * - `prior` misses a claim of the same key committed after that; the INSERT then hits the unique
 *   key (waiting for a claim still in flight), and the whole statement fails and undoes its
 *   consumption: the caller looks again (`raced`) and finds the claim. (ON CONFLICT DO NOTHING
 *   would keep the consumption without its claim.)
 * - `target` is chosen from the snapshot. `consumed` waits for the row lock of a report
 *   consuming the same entitlement and then, on READ COMMITTED, re-checks its WHERE against the
 *   row as that report left it: never below zero, never a lost update. When the row no longer
 *   qualifies, nothing is consumed and `stored` (which inserts only what `consumed` returned)
 *   stores nothing; the caller looks again with a new snapshot (`raced`), which sees the next
 *   candidate, or none.
 * - `due`: the first candidate needs its roll-over, which the caller makes (one conditional
 *   UPDATE) before it tries again.
 */
const STATEMENT = compile<Claim & { now: number; createdAt: string }>(`
WITH prior AS (
  SELECT listing_id, units, result FROM usage_records WHERE user_id = $userId AND client_req_id = $clientReqId
), target AS MATERIALIZED (
  SELECT id, granted_at, quota_period, period_end, stripe_subscription_id, ${DUE} AS due
  FROM entitlements
  WHERE user_id = $userId AND listing_id = $listingId AND status = 'active' AND (${USABLE} OR ${DUE})
    AND NOT EXISTS (SELECT 1 FROM prior)
  ORDER BY ${CANDIDATE_ORDER}
  LIMIT 1
), consumed AS (
  UPDATE entitlements SET quota_remaining = quota_remaining - $units
  WHERE id = (SELECT id FROM target WHERE NOT due) AND status = 'active' AND ${USABLE}
  RETURNING id, quota_remaining, period_end
), stored AS (
  INSERT INTO usage_records (id, user_id, client_req_id, listing_id, units, entitlement_id, result, created_at)
  SELECT CAST($id AS text), CAST($userId AS text), CAST($clientReqId AS text), CAST($listingId AS text), CAST($units AS integer), id,
    CAST(json_build_object(
      'id', CAST($id AS text), 'clientReqId', CAST($clientReqId AS text), 'listingId', CAST($listingId AS text), 'units', CAST($units AS integer),
      'entitlementId', id, 'remaining', quota_remaining,
      'periodEnd', to_char(to_timestamp(period_end / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'createdAt', CAST($createdAt AS text), 'replayed', false
    ) AS text),
    CAST($at AS bigint)
  FROM consumed
  RETURNING result
)
SELECT (SELECT result FROM stored) AS stored,
  p.listing_id AS prior_listing_id, p.units AS prior_units, p.result AS prior_result,
  t.id AS target_id, t.due, t.granted_at, t.quota_period, t.period_end, t.stripe_subscription_id,
  CASE WHEN p.listing_id IS NULL AND t.id IS NULL
    THEN EXISTS (SELECT 1 FROM entitlements WHERE user_id = $userId AND listing_id = $listingId AND status = 'active') END AS entitled
FROM (SELECT 1) AS one LEFT JOIN prior p ON true LEFT JOIN target t ON true`);

/** The statement, its name and its values for one claim (also what the bench's bare handler sends with raw pg). */
export function reportStatement(claim: Claim): { name: string; sql: string; bindings: unknown[] } {
  return { name: PREPARED, sql: STATEMENT.sql, bindings: STATEMENT.bindings({ ...claim, now: claim.at, createdAt: new Date(claim.at).toISOString() }) };
}

interface Row {
  stored: string | null;
  prior_listing_id: string | null;
  prior_units: number | null;
  prior_result: string | null;
  target_id: string | null;
  due: boolean | null;
  granted_at: string | null;
  quota_period: 'month' | 'year' | null;
  period_end: string | null;
  stripe_subscription_id: string | null;
  entitled: boolean | null;
}

export async function reportInOneStatement(db: Knex, claim: Claim): Promise<ReportOutcome> {
  const { name, sql, bindings } = reportStatement(claim);
  let row: Row;
  try {
    // Named: each connection parses and plans it once (a generic plan after five runs); unnamed,
    // PostgreSQL planned it on every report, about as long as it took to run.
    row = ((await db.raw(sql, bindings as Knex.RawBinding[]).options({ name })) as { rows: Row[] }).rows[0]!;
  } catch (err) {
    if ((err as { code?: string; constraint?: string }).code === '23505' && (err as { constraint?: string }).constraint === CLAIM_KEY) return { kind: 'raced' };
    throw translateDbError(err);
  }
  if (row.stored !== null) return { kind: 'stored', result: row.stored };
  if (row.prior_listing_id !== null) return { kind: 'prior', listingId: row.prior_listing_id, units: Number(row.prior_units), result: row.prior_result };
  if (row.target_id !== null && row.due) {
    return {
      kind: 'due',
      entitlement: { id: row.target_id, granted_at: row.granted_at!, quota_period: row.quota_period, period_end: row.period_end, stripe_subscription_id: row.stripe_subscription_id },
    };
  }
  // The target was used up (or changed) by a concurrent report before this one got its row lock.
  if (row.target_id !== null) return { kind: 'raced' };
  return { kind: 'refused', entitled: row.entitled === true };
}
