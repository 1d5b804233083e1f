import type { Knex } from 'knex';

/**
 * SQL on better-auth's `session` table for what its API cannot express. better-auth stores
 * dates as timestamps on PostgreSQL and ISO strings on SQLite.
 */
const stamp = (db: Knex, at: Date) => (db.client.config.client === 'pg' ? at : at.toISOString());

/** One of the user's own sessions by its id (someone else's id matches nothing). */
export function findOwnSession(db: Knex, userId: string, id: string): Promise<{ id: string; token: string } | undefined> {
  return db('session').select('id', 'token').where({ id, userId }).first();
}

/** Ends a session's validity now, before what it holds is revoked (nothing new through it). */
export async function expireSession(db: Knex, id: string, at = new Date()): Promise<void> {
  await db('session').where({ id }).update({ expiresAt: stamp(db, at) });
}

/** Deletes the user's sessions created before `at` (the ones a second-factor enrolment outdates). */
export async function deleteSessionsBefore(db: Knex, userId: string, at: Date): Promise<void> {
  await db('session').where({ userId }).andWhere('createdAt', '<', stamp(db, at)).del();
}

/** The sessions of these tokens (live or expired: the caller compares `expiresAt`). */
export function sessionsByToken(db: Knex, tokens: string[]): Promise<{ userId: string; expiresAt: string | Date }[]> {
  return db('session').select('userId', 'expiresAt').whereIn('token', tokens);
}
