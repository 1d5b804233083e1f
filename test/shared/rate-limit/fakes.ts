import { appError, StorageErrors } from '#shared/errors/index.js';
import type { Cache, TokenBucketResult, TokenBucketRule } from '#shared/cache/index.js';

/**
 * Wraps a cache: records the keys passed to takeToken and, while `down`, fails every call
 * with CACHE_UNAVAILABLE the way the Redis backend does during an outage.
 */
export class SwitchableCache implements Cache {
  down = false;
  readonly keys: string[] = [];
  calls = 0;

  constructor(private readonly inner: Cache) {}

  get backend() {
    return this.inner.backend;
  }

  private guard(): void {
    this.calls++;
    if (this.down) throw appError(StorageErrors, 'CACHE_UNAVAILABLE', { cause: new Error('connection is closed') });
  }

  async takeToken(key: string, rule: TokenBucketRule): Promise<TokenBucketResult> {
    this.keys.push(key);
    this.guard();
    return this.inner.takeToken(key, rule);
  }

  async get(key: string) {
    this.guard();
    return this.inner.get(key);
  }
  async set(key: string, value: string, ttlMs?: number) {
    this.guard();
    return this.inner.set(key, value, ttlMs);
  }
  async setIfAbsent(key: string, value: string, ttlMs: number) {
    this.guard();
    return this.inner.setIfAbsent(key, value, ttlMs);
  }
  async delete(key: string) {
    this.guard();
    return this.inner.delete(key);
  }
  async deleteByPrefix(prefix: string) {
    this.guard();
    return this.inner.deleteByPrefix(prefix);
  }
  async incr(key: string, by: number, ttlMs: number) {
    this.guard();
    return this.inner.incr(key, by, ttlMs);
  }
  async ping() {
    this.guard();
  }
  close() {
    return this.inner.close();
  }
}
