import type { Cache, TokenBucketResult, TokenBucketRule } from './types.js';
import { checkIncrement, checkRule, checkTtl } from './validate.js';
import { decodeBucket, encodeBucket, takeFromBucket } from './token-bucket.js';

/**
 * In-process backend for `npm start` and tests. Atomicity comes from the single thread: no
 * method awaits between reading and writing an entry. It is per process, so it only fits a
 * single replica (the design sends multi-replica deployments to Redis).
 */
export interface MemoryCacheOptions {
  /** Bound on memory: past it the least recently written entry is evicted. */
  maxEntries?: number;
  sweepIntervalMs?: number;
  now?: () => number;
}

interface Entry {
  value: string;
  /** Infinity when the entry never expires. */
  expiresAt: number;
}

const DEFAULT_MAX_ENTRIES = 100_000;
const DEFAULT_SWEEP_MS = 30_000;

export class MemoryCache implements Cache {
  readonly backend = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: MemoryCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.now = options.now ?? Date.now;
    // Lazy expiry alone would keep keys that are never read again (e.g. one-off rate limit keys).
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? DEFAULT_SWEEP_MS);
    this.sweeper.unref();
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs !== undefined) checkTtl(ttlMs);
    this.write(key, value, ttlMs === undefined ? Infinity : this.now() + ttlMs);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    if (this.live(key)) return false;
    this.write(key, value, this.now() + ttlMs);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return this.live(key) !== undefined && this.entries.delete(key);
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    let removed = 0;
    for (const key of [...this.entries.keys()]) {
      if (key.startsWith(prefix) && this.live(key)) removed += Number(this.entries.delete(key));
    }
    return removed;
  }

  async incr(key: string, by: number, ttlMs: number): Promise<number> {
    checkIncrement(by);
    checkTtl(ttlMs);
    const entry = this.live(key);
    if (!entry) {
      this.write(key, String(by), this.now() + ttlMs);
      return by;
    }
    const current = Number(entry.value);
    // Same refusal as Redis INCRBY on a non-integer value.
    if (!Number.isSafeInteger(current)) throw new TypeError(`value at ${key} is not an integer`);
    entry.value = String(current + by);
    return current + by;
  }

  async takeToken(key: string, rule: TokenBucketRule): Promise<TokenBucketResult> {
    const cost = checkRule(rule);
    const now = this.now();
    const step = takeFromBucket(decodeBucket(this.live(key)?.value), rule.capacity, rule.refillPerSecond, cost, now);
    this.write(key, encodeBucket(step.state), now + step.ttlMs);
    return step.result;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.entries.clear();
  }

  /** Number of stored entries, expired or not (for tests of the sweep and the bound). */
  get size(): number {
    return this.entries.size;
  }

  sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private write(key: string, value: string, expiresAt: number): void {
    // Re-inserting moves the key to the end of the Map's order, which is the eviction order.
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expiresAt });
  }
}

export function createMemoryCache(options?: MemoryCacheOptions): MemoryCache {
  return new MemoryCache(options);
}
