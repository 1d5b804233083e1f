import { appError, StorageErrors } from '../errors/index.js';
import type { Logger } from '../logging/logger.js';
import type { Cache, TokenBucketResult, TokenBucketRule } from './types.js';
import { checkIncrement, checkRule, checkTtl } from './validate.js';
import { createRedisClient, watchConnection, type RedisCacheConfig, type ScriptedRedis } from './redis-connection.js';

/** Keys per SCAN step and per UNLINK, so a large prefix never blocks Redis for long. */
const SCAN_BATCH = 500;

/** SCAN MATCH is a glob: a prefix containing * ? [ ] or \ must match itself literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

export class RedisCache implements Cache {
  readonly backend = 'redis' as const;

  constructor(
    private readonly client: ScriptedRedis,
    private readonly keyPrefix: string,
    private readonly stopWatching: () => void = () => {},
  ) {}

  get(key: string): Promise<string | null> {
    return this.run(() => this.client.get(this.k(key)));
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs === undefined) {
      await this.run(() => this.client.set(this.k(key), value));
      return;
    }
    checkTtl(ttlMs);
    await this.run(() => this.client.set(this.k(key), value, 'PX', ttlMs));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const reply = await this.run(() => this.client.set(this.k(key), value, 'PX', ttlMs, 'NX'));
    return reply === 'OK';
  }

  async delete(key: string): Promise<boolean> {
    return (await this.run(() => this.client.unlink(this.k(key)))) === 1;
  }

  deleteByPrefix(prefix: string): Promise<number> {
    const match = `${escapeGlob(this.k(prefix))}*`;
    return this.run(async () => {
      let cursor = '0';
      let removed = 0;
      do {
        const [next, keys] = await this.client.scan(cursor, 'MATCH', match, 'COUNT', SCAN_BATCH);
        // SCAN may return a key twice; UNLINK counts only keys that still existed.
        if (keys.length > 0) removed += await this.client.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
      return removed;
    });
  }

  async incr(key: string, by: number, ttlMs: number): Promise<number> {
    checkIncrement(by);
    checkTtl(ttlMs);
    return Number(await this.run(() => this.client.portcullisIncr(this.k(key), by, ttlMs)));
  }

  async takeToken(key: string, rule: TokenBucketRule): Promise<TokenBucketResult> {
    const cost = checkRule(rule);
    const [allowed, remaining, retryAfterMs] = await this.run(() =>
      this.client.portcullisTakeToken(this.k(key), rule.capacity, rule.refillPerSecond, cost),
    );
    return { allowed: allowed === 1, remaining: Number(remaining), retryAfterMs: Number(retryAfterMs) };
  }

  async ping(): Promise<void> {
    await this.run(() => this.client.ping());
  }

  async close(): Promise<void> {
    this.stopWatching();
    if (this.client.status === 'end') return;
    if (this.client.status !== 'ready') {
      this.client.disconnect();
      return;
    }
    // QUIT lets in-flight commands finish; if Redis does not answer, drop the socket anyway.
    await this.client.quit().catch(() => this.client.disconnect());
  }

  private k(key: string): string {
    return this.keyPrefix + key;
  }

  /** Every client or server failure becomes one typed 503; the original is kept as `cause`. */
  private async run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (cause) {
      throw appError(StorageErrors, 'CACHE_UNAVAILABLE', { cause });
    }
  }
}

/**
 * Resolves even when Redis is down at boot: the service starts, readiness reports the cache
 * through ping(), operations fail fast with CACHE_UNAVAILABLE, and ioredis keeps reconnecting
 * in the background so the cache recovers without a restart.
 */
export async function createRedisCache(config: RedisCacheConfig, logger: Logger): Promise<RedisCache> {
  const client = createRedisClient(config);
  const stopWatching = watchConnection(client, logger);
  // A failed first attempt is already logged by the watcher; reconnecting continues regardless.
  // The wait is capped because a server that accepts but never answers would otherwise stall
  // boot for one command timeout per handshake command (HELLO, CLIENT SETINFO, INFO).
  let timer: NodeJS.Timeout | undefined;
  const capped = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, config.connectTimeoutMs + config.commandTimeoutMs);
  });
  await Promise.race([client.connect().catch(() => undefined), capped]);
  clearTimeout(timer);
  return new RedisCache(client, config.keyPrefix, stopWatching);
}
