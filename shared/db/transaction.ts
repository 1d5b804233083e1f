import type { Knex } from 'knex';
import { isAppError } from '../errors/index.js';
import { translateDbError } from './errors.js';

/**
 * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws (knex
 * issues ROLLBACK before rejecting). Driver errors leave as storage AppErrors, so a service can
 * map UNIQUE_VIOLATION to its own domain error without knowing the backend.
 *
 * On SQLite the single pooled connection is held for the whole of `fn`: queries inside must use
 * `trx`, never `db`, or they wait for a connection that only `fn`'s end will free.
 */
export async function withTransaction<T>(db: Knex, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  try {
    return await db.transaction(fn);
  } catch (err) {
    throw translateDbError(err);
  }
}

/** True when `err` (raw or translated) means the database cannot be reached: answer 503, retry later. */
export function isUnavailable(err: unknown): boolean {
  const translated = translateDbError(err);
  return isAppError(translated) && translated.code === 'DATABASE_UNAVAILABLE';
}
