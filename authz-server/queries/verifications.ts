import type { Knex } from 'knex';

/**
 * better-auth's `verification` rows by identifier. A pending second factor is one: its
 * identifier is the signed two_factor cookie's value, its value the user id.
 */
export function verificationValues(db: Knex, identifiers: string[]): Promise<{ identifier: string; value: string }[]> {
  return db('verification').select('identifier', 'value').whereIn('identifier', identifiers);
}
