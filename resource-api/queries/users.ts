import type { Knex } from 'knex';

export interface UserAccess {
  id: string;
  email: string;
  name: string;
  role: string | null;
  banned: boolean;
  banExpires: string | Date | null;
}

/** The caller's current role and ban state: read on every request, never from the token. */
export async function findUserAccess(db: Knex, id: string): Promise<UserAccess | undefined> {
  const row = await db('user').select('id', 'email', 'name', 'role', 'banned', 'banExpires').where({ id }).first();
  return row ? { ...row, banned: Boolean(row.banned) } : undefined;
}
