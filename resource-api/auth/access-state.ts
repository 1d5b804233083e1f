import type { Knex } from 'knex';
import type { Config } from '#shared/config/index.js';
import { denyWindowMs, type ChangeBus } from '#shared/bus/index.js';
import { createRevocations, type Revocations, type Verdict } from './revocations.js';
import { createPersonLookup, type PersonLookup } from './people.js';
import { clientStillRegistered } from './queries.js';

/**
 * What koa-auth asks about a caller beyond the token's signature, kept current by the change
 * bus (docs/operations.md): is this replica current (`sync`), is the token revoked, who is the
 * person now (role, ban). Without a live bus every answer comes from the database.
 */
export interface AccessState {
  sync(): Promise<boolean>;
  verdict: Revocations['verdict'];
  people: PersonLookup;
  clientStillRegistered(clientId: string): Promise<boolean>;
  /** Verdicts so far, by answer (for /metrics: how often the database had to decide). */
  verdicts: Record<Verdict, number>;
}

export function createAccessState(db: Knex, config: Pick<Config, 'tokens' | 'bus'>, bus: ChangeBus): AccessState {
  const revocations = createRevocations(bus, { windowMs: denyWindowMs(config) });
  const verdicts: Record<Verdict, number> = { valid: 0, revoked: 0, 'ask-database': 0 };
  return {
    sync: () => bus.sync(),
    verdict(claims, live) {
      const v = revocations.verdict(claims, live);
      verdicts[v]++;
      return v;
    },
    verdicts,
    people: createPersonLookup(db, bus, config.bus.cacheMaxAgeMs),
    clientStillRegistered: (clientId) => clientStillRegistered(db, clientId),
  };
}
