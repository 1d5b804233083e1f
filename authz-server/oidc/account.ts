import type { Knex } from 'knex';
import type { Account, KoaContextWithOIDC } from 'oidc-provider';
import { findUserById, type AccountRow } from '../queries/users.js';
import { isBanned, roleOf } from '#shared/auth/user-access.js';
import { NO_CACHES, type ProviderCaches } from './caches.js';

export const ROLE_CLAIM = 'marketplace:role';


/**
 * The provider's view of a person, current on every token issue: a refreshed ID token carries
 * the current role, and a banned user gets no tokens at all. `prefetched`: the row this request
 * already read (null: no such user; undefined: not read yet). Otherwise the row comes from the
 * database, or from this replica's cache while the change bus vouches for it (`caches`: a role
 * change, ban or deletion publishes `user.changed`, which drops the entry on every replica).
 */
export function createFindAccount(db: Knex, prefetched: (ctx: KoaContextWithOIDC, sub: string) => AccountRow | null | undefined = () => undefined, caches: ProviderCaches = NO_CACHES) {
  return async (ctx: KoaContextWithOIDC, sub: string): Promise<Account | undefined> => {
    const early = prefetched(ctx, sub);
    const user = early === undefined ? await caches.account(sub, () => findUserById(db, sub)) : early;
    if (!user || isBanned(user)) return undefined;
    return {
      accountId: user.id,
      async claims() {
        return {
          sub: user.id,
          email: user.email,
          email_verified: user.emailVerified,
          name: user.name,
          // As the API reads it: an unknown stored role is the least one.
          [ROLE_CLAIM]: roleOf(user),
        };
      },
    };
  };
}
