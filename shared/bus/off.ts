import type { ChangeBus } from './types.js';

/**
 * Embedded mode (no REDIS_URL): `npm start` runs the two services as separate processes that
 * share only the SQLite file, so a change made in one cannot reach the other. Nothing is ever
 * announced and `sync()` is always false: every request reads the role, ban and revocation state
 * from the database, as before the bus existed.
 */
export function createOffBus(): ChangeBus {
  return {
    kind: 'off',
    publish: async () => true,
    subscribe: () => () => undefined,
    sync: async () => false,
    stats: () => ({ state: 'idle', unpublished: 0 }),
    close: async () => ({ unpublished: 0 }),
  };
}
