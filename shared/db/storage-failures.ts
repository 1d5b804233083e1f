import { translateDbError } from './errors.js';
import { isAppError } from '../errors/index.js';

/**
 * better-auth answers a failed query as a bare 500 and hands the cause only to its
 * `onAPIError` hook, which knows nothing of the request. This remembers when the last such
 * cause was the database being unreachable (a restart, a killed session), so the Koa edge can
 * tell an outage from a bug while the database already answers pings again. One per container
 * (shared/container.ts): better-auth's hook and the authz-server's edge get the same one.
 */
export function createStorageFailures(now: () => number = Date.now) {
  let lastAt = 0;
  return {
    /** Records `err` if it is a database outage; returns whether it was. */
    note(err: unknown): boolean {
      const t = translateDbError(err);
      const outage = isAppError(t) && t.code === 'DATABASE_UNAVAILABLE';
      if (outage) lastAt = now();
      return outage;
    },
    within(ms: number): boolean {
      return now() - lastAt < ms;
    },
  };
}

export type StorageFailures = ReturnType<typeof createStorageFailures>;
