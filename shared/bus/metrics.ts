import { Gauge, type Registry } from 'prom-client';
import type { ChangeBus } from './types.js';

/**
 * What an operator watches (docs/operations.md): `bus_following` 1 while this replica applies
 * every change and may answer from its caches, 0 while it reads the database instead (Redis
 * unreachable, catching up); `bus_unpublished` changes made here that Redis has not taken yet;
 * at the API, `access_token_verdicts` by answer: `ask-database` counts the tokens whose
 * revocation the bus could not decide.
 */
export function registerBusMetrics(registry: Registry, bus: Pick<ChangeBus, 'stats'>, verdicts?: Readonly<Record<string, number>>): void {
  new Gauge({
    name: 'bus_following', help: 'Whether this replica follows the change bus (1) or reads the database on every request (0)', registers: [registry],
    collect() {
      this.set(bus.stats().state === 'following' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'bus_unpublished', help: 'Changes made here that Redis has not taken yet (retried every second)', registers: [registry],
    collect() {
      this.set(bus.stats().unpublished);
    },
  });
  if (!verdicts) return;
  new Gauge({
    name: 'access_token_verdicts', help: 'Access tokens judged since start, by answer: valid, revoked (from memory) or ask-database', labelNames: ['answer'], registers: [registry],
    collect() {
      for (const [answer, n] of Object.entries(verdicts)) this.set({ answer }, n);
    },
  });
}
