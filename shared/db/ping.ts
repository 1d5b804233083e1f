import type { Knex } from 'knex';
import { StorageErrors, appError, isAppError } from '../errors/index.js';
import { translateDbError } from './errors.js';

/**
 * Readiness probe: `select 1` within `timeoutMs`, connection acquisition included. Any failure
 * rejects with DATABASE_UNAVAILABLE (cause attached) so `/readyz` answers 503 either way.
 */
export async function pingDb(db: Knex, timeoutMs = 2000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`database ping exceeded ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    // The losing promise of the race is still observed by race(), so a late rejection is handled.
    await Promise.race([db.raw('select 1'), deadline]);
  } catch (err) {
    const translated = translateDbError(err);
    if (isAppError(translated) && translated.code === 'DATABASE_UNAVAILABLE') throw translated;
    throw appError(StorageErrors, 'DATABASE_UNAVAILABLE', { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
