import { LRUCache } from 'lru-cache';
import type { Change } from './changes.js';
import type { ChangeBus } from './types.js';

export interface BusCacheOptions {
  /** Entries at most (least recently used go first). */
  max: number;
  /** The bound on an entry's age whatever the bus says (BUS_CACHE_MAX_AGE_S); 0: never cache. */
  maxAgeMs: number;
  /** The key a change makes stale, if any. */
  invalidates: (change: Change) => string | undefined;
}

export interface BusCache<V> {
  /**
   * The cached value of `key`, else `load()`'s, cached when the bus vouches for it. `live` is
   * the request's `sync()`: while false this reads through (the database on every call).
   */
  get(key: string, load: () => Promise<V | undefined>, live: boolean): Promise<V | undefined>;
}

/**
 * A per-process cache whose entries the bus invalidates. A value loaded while a change was
 * applied may predate that change: it is not stored (the generation moved), so an entry never
 * outlives the change that made it stale. A reset (missed changes) drops everything.
 */
export function createBusCache<V extends object>(bus: Pick<ChangeBus, 'subscribe'>, opts: BusCacheOptions): BusCache<V> {
  if (opts.maxAgeMs <= 0) return { get: (_key, load) => load() };
  const entries = new LRUCache<string, V>({ max: opts.max, ttl: opts.maxAgeMs });
  let generation = 0;
  bus.subscribe((e) => {
    if (e.kind === 'reset') {
      generation++;
      entries.clear();
      return;
    }
    const key = opts.invalidates(e.change);
    if (key === undefined) return;
    generation++;
    entries.delete(key);
  });
  return {
    async get(key, load, live) {
      if (!live) return load();
      const hit = entries.get(key);
      if (hit) return hit;
      const seen = generation;
      const value = await load();
      if (value !== undefined && seen === generation) entries.set(key, value);
      return value;
    },
  };
}
