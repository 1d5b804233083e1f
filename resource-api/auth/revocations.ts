import type { ChangeBus, Revocation } from '#shared/bus/index.js';
import { CLOCK_SKEW_S, type AccessTokenClaims } from './access-token.js';

/**
 * What the bus says about a verified access token:
 * - `revoked`: its grant was revoked, or its user's or client's tokens issued before some moment
 *   were, and it was issued before that moment;
 * - `valid`: nothing revokes it, and this replica knows every revocation it could be subject to;
 * - `ask-database`: the bus cannot vouch — this replica is stale, or the token was issued around
 *   a revocation of its user or client (clocks and whole-second `iat` leave that undecided), or
 *   before the moment from which Redis holds every revocation. The database decides (the grant's
 *   tombstone, the ban, the client's row): slower, never wrong.
 */
export type Verdict = 'revoked' | 'valid' | 'ask-database';

export interface Revocations {
  verdict(claims: AccessTokenClaims, live: boolean): Verdict;
}

/** The grant an access token was issued from (authz-server/oidc/configuration.ts, extraTokenClaims). */
export const GRANT_CLAIM = 'grant_id';

export const grantOf = (claims: AccessTokenClaims): string | undefined => (typeof claims[GRANT_CLAIM] === 'string' ? (claims[GRANT_CLAIM] as string) : undefined);

/**
 * How far `iat` (whole seconds, the authorization server's clock) may sit from a revocation time
 * (the publisher's clock) before the order of the two is certain.
 */
const UNDECIDED_MS = (CLOCK_SKEW_S + 1) * 1000;
const SWEEP_EVERY_MS = 60_000;

/**
 * The deny state of this replica, built from the bus: revoked grants, and "tokens issued before
 * T" per user and per client, each kept as long as a token it refuses can live (`windowMs`).
 * A reset merges what Redis holds (it may have lost what this replica still knows).
 */
export function createRevocations(bus: Pick<ChangeBus, 'subscribe'>, opts: { windowMs: number; now?: () => number }): Revocations {
  const now = opts.now ?? Date.now;
  const sets = { 'grant.revoked': new Map<string, number>(), 'user.sessions_revoked': new Map<string, number>(), 'client.deleted': new Map<string, number>() };
  // Epoch ms from which every revocation is known here; nothing is known before the first reset.
  let since = Infinity;
  let swept = now();

  const add = (r: Revocation) => {
    const set = sets[r.type];
    const subject = r.type === 'grant.revoked' ? r.grantId : r.type === 'user.sessions_revoked' ? r.userId : r.clientId;
    set.set(subject, Math.max(set.get(subject) ?? 0, r.at));
  };
  const sweep = () => {
    swept = now();
    for (const set of Object.values(sets)) for (const [k, at] of set) if (at < swept - opts.windowMs) set.delete(k);
  };

  bus.subscribe((e) => {
    if (e.kind === 'change' && 'at' in e.change) add(e.change);
    if (e.kind === 'reset' && e.deny) {
      since = e.deny.since;
      for (const r of e.deny.revocations) add(r);
    }
    if (now() - swept > SWEEP_EVERY_MS) sweep();
  });

  return {
    verdict(claims, live) {
      if (!live) return 'ask-database';
      const grant = grantOf(claims);
      if (grant && sets['grant.revoked'].has(grant)) return 'revoked';
      const issued = claims.iat * 1000;
      const person = claims.sub === claims.client_id ? undefined : sets['user.sessions_revoked'].get(claims.sub);
      for (const before of [person, sets['client.deleted'].get(claims.client_id)]) {
        if (before === undefined) continue;
        if (issued < before - UNDECIDED_MS) return 'revoked';
        if (issued <= before + UNDECIDED_MS) return 'ask-database';
      }
      return issued <= since + UNDECIDED_MS ? 'ask-database' : 'valid';
    },
  };
}
