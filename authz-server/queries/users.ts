import type { Knex } from 'knex';

/** Read-only view of better-auth's user table for the OpenID provider. */
export interface AccountRow {
  id: string;
  email: string;
  emailVerified: boolean;
  name: string;
  role: string | null;
  banned: boolean | null;
  banExpires: string | Date | null;
}

export async function findUserById(db: Knex, id: string): Promise<AccountRow | undefined> {
  const row = await db('user').select('id', 'email', 'emailVerified', 'name', 'role', 'banned', 'banExpires').where({ id }).first();
  if (!row) return undefined;
  return { ...row, emailVerified: Boolean(row.emailVerified), banned: row.banned === null ? null : Boolean(row.banned) };
}
