import type { Knex } from 'knex';
import type { Account, KoaContextWithOIDC } from 'oidc-provider';
import { findUserById } from '../queries/users.js';
import { isBanned } from '#shared/auth/assurance.js';

export const ROLE_CLAIM = 'marketplace:role';


/**
 * The provider's view of a person, read from the database on every token issue: a refreshed
 * ID token carries the current role, and a banned user gets no tokens at all.
 */
export function createFindAccount(db: Knex) {
  return async (_ctx: KoaContextWithOIDC, sub: string): Promise<Account | undefined> => {
    const user = await findUserById(db, sub);
    if (!user || isBanned(user)) return undefined;
    return {
      accountId: user.id,
      async claims() {
        return {
          sub: user.id,
          email: user.email,
          email_verified: user.emailVerified,
          name: user.name,
          [ROLE_CLAIM]: user.role ?? 'user',
        };
      },
    };
  };
}
