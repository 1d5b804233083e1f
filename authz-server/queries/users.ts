import type { Knex } from 'knex';

/**
 * Read-only view of better-auth's user table for the OpenID provider: the one user lookup of both
 * services, beside the one ban rule, lives in shared/auth/user-access.ts (#15). These names stay
 * for the authorization server's callers (the refresh grant joins the same columns).
 */
export {
  USER_ACCESS_COLUMNS as ACCOUNT_COLUMNS,
  findUserAccess as findUserById,
  toUserAccess as toAccountRow,
  type UserAccess as AccountRow,
} from '#shared/auth/user-access.js';

/**
 * The account holding `email`, if any, and whether it is verified: sign-up and resend-verification
 * read this one row and answer the same whatever it says (accounts/sign-up.ts).
 */
export async function findAccountByEmail(db: Knex, email: string): Promise<{ id: string; emailVerified: boolean } | undefined> {
  const row = await db('user').select('id', 'emailVerified').where({ email }).first();
  return row ? { id: String(row.id), emailVerified: Boolean(row.emailVerified) } : undefined;
}
