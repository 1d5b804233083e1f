import type { Knex } from 'knex';
import { createBusCache } from '#shared/bus/bus-cache.js';
import type { ChangeBus } from '#shared/bus/index.js';
import { findUserAccess, findUserAccessWithGrant, type UserAccess } from '#shared/auth/user-access.js';

/** Entries of the principal cache: one per active person, small. */
const MAX_PEOPLE = 10_000;

export interface PersonLookup {
  /**
   * The person behind a token or session: from this replica's cache while the bus vouches for
   * it (`live`), else from the database. With `grantId` (the bus cannot vouch for the token) the
   * database also says, in the same query, whether that grant was revoked.
   */
  find(userId: string, live: boolean, grantId?: string): Promise<{ user: UserAccess; grantRevoked: boolean } | undefined>;
}

/** The role, ban state, name and email by user id, invalidated by `user.changed`. */
export function createPersonLookup(db: Knex, bus: Pick<ChangeBus, 'subscribe'>, maxAgeMs: number): PersonLookup {
  const cache = createBusCache<UserAccess>(bus, { max: MAX_PEOPLE, maxAgeMs, invalidates: (c) => (c.type === 'user.changed' ? c.userId : undefined) });
  return {
    async find(userId, live, grantId) {
      if (grantId !== undefined) return findUserAccessWithGrant(db, userId, grantId);
      const user = await cache.get(userId, () => findUserAccess(db, userId), live);
      return user && { user, grantRevoked: false };
    },
  };
}
