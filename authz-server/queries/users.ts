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

/** The columns an AccountRow is read from (also joined by queries/refresh-rotation.ts). */
export const ACCOUNT_COLUMNS = ['id', 'email', 'emailVerified', 'name', 'role', 'banned', 'banExpires'] as const;

export function toAccountRow(row: Record<(typeof ACCOUNT_COLUMNS)[number], unknown>): AccountRow {
  const r = row as unknown as AccountRow;
  return { ...r, emailVerified: Boolean(row.emailVerified), banned: row.banned === null ? null : Boolean(row.banned) };
}

export async function findUserById(db: Knex, id: string): Promise<AccountRow | undefined> {
  const row = await db('user').select(...ACCOUNT_COLUMNS).where({ id }).first();
  return row ? toAccountRow(row) : undefined;
}
