import Provider, { type AdapterPayload } from 'oidc-provider';
import { createBusCache } from '#shared/bus/bus-cache.js';
import type { ChangeBus } from '#shared/bus/index.js';
import type { AccountRow } from '../queries/users.js';

/** Entries of each cache: the clients and the people active on one replica. */
const MAX_ENTRIES = 10_000;

/**
 * The authorization server's per-process caches that the change bus keeps current (issue #19,
 * docs/operations.md "The change bus"): client metadata by client id and accounts by user id.
 *
 * An entry is served only while the bus vouches for this replica — the request's `sync()`
 * (one Redis round trip per request, shared by the lookups of that request) says every change
 * published before the request began has been applied. `client.changed` (RFC 7591/7592) and
 * `client.deleted` drop a client, `user.changed` (role, ban, profile, deletion) an account; a
 * reset drops everything. Without Redis, or while the bus is unreachable or catching up, every
 * lookup reads the database, as before the bus. BUS_CACHE_MAX_AGE_S bounds an entry's age
 * whatever the bus says, and `0` turns both caches off.
 *
 * The refresh grant does not go through these: it reads its client and account in the same
 * statement as the token (oidc/refresh-rotation.ts), so a cached copy would save no round trip.
 */
export interface ProviderCaches {
  client(clientId: string, load: () => Promise<AdapterPayload | undefined>): Promise<AdapterPayload | undefined>;
  account(userId: string, load: () => Promise<AccountRow | undefined>): Promise<AccountRow | undefined>;
}

/** No cache: every lookup loads (tests of the storage itself, tools). */
export const NO_CACHES: ProviderCaches = { client: (_id, load) => load(), account: (_id, load) => load() };

export function createProviderCaches(bus: Pick<ChangeBus, 'subscribe' | 'sync'>, maxAgeMs: number): ProviderCaches {
  const clients = createBusCache<AdapterPayload>(bus, {
    max: MAX_ENTRIES,
    maxAgeMs,
    invalidates: (c) => (c.type === 'client.changed' || c.type === 'client.deleted' ? c.clientId : undefined),
  });
  const accounts = createBusCache<AccountRow>(bus, { max: MAX_ENTRIES, maxAgeMs, invalidates: (c) => (c.type === 'user.changed' ? c.userId : undefined) });

  // One sync() per request, whichever lookup asks first; outside a request (a provider call
  // from a job), one per lookup.
  const synced = new WeakMap<object, Promise<boolean>>();
  const live = (): Promise<boolean> => {
    const ctx = Provider.ctx;
    if (!ctx) return bus.sync();
    let answer = synced.get(ctx);
    if (!answer) synced.set(ctx, (answer = bus.sync()));
    return answer;
  };

  return {
    // oidc-provider builds its Client from the payload; each caller gets its own copy.
    client: async (clientId, load) => {
      const payload = await clients.get(clientId, load, await live());
      return payload && structuredClone(payload);
    },
    account: async (userId, load) => accounts.get(userId, load, await live()),
  };
}
