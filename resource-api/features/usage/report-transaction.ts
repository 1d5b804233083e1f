import type { Knex } from 'knex';
import { withTransaction } from '#shared/db/index.js';
import { consumeFirstUsable, consumeQuota, findUsage, insertUsage, rollOverPeriod, usableEntitlements, type Consumed } from './queries.js';
import { duePeriod, resultOf, type Claim, type ReportOutcome } from './rules.js';

/** Thrown inside the transaction to roll back a roll-over made for a report that is then refused. */
class Refused extends Error {
  constructor(readonly entitled: boolean) {
    super('usage report refused');
  }
}

/**
 * A usage report as one transaction (SQLite: no data-modifying CTE; one connection per process,
 * and a write lock that serialises every replica's transactions). It begins with a write, so it
 * holds the write lock from its first statement (SQLite cannot upgrade a read transaction while
 * another process writes). Common case: consume from the first candidate, insert the claim with
 * its answer. Otherwise: a used clientReqId answers its first report; else the candidates are
 * tried in order, each rolled over first when due, and a refusal rolls everything back.
 */
export async function reportInTransaction(db: Knex, claim: Claim): Promise<ReportOutcome> {
  try {
    return await withTransaction(db, async (trx) => {
      const consumed = (await consumeFirstUsable(trx, claim)) ?? (await slowPath(trx, claim));
      if ('kind' in consumed) return consumed;
      const result = JSON.stringify(resultOf(claim, { id: consumed.id, remaining: Number(consumed.quota_remaining), periodEnd: consumed.period_end }));
      await insertUsage(trx, claim, consumed.id, result);
      return { kind: 'stored', result };
    });
  } catch (err) {
    if (err instanceof Refused) return { kind: 'refused', entitled: err.entitled };
    throw err;
  }
}

async function slowPath(trx: Knex.Transaction, claim: Claim): Promise<Consumed | ReportOutcome> {
  const prior = await findUsage(trx, claim.userId, claim.clientReqId);
  if (prior) return { kind: 'prior', listingId: prior.listing_id, units: Number(prior.units), result: prior.result };
  const candidates = await usableEntitlements(trx, claim.userId, claim.listingId);
  for (const e of candidates) {
    const due = duePeriod(e, claim.at);
    if (due) await rollOverPeriod(trx, e.id, Number(e.period_end), due);
    const consumed = await consumeQuota(trx, e.id, claim.units, claim.at);
    if (consumed) return consumed;
  }
  throw new Refused(candidates.length > 0);
}
