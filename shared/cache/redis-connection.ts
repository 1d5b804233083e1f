import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import { SCRIPTS, type ScriptCommands } from './redis-scripts.js';

export type RedisCacheConfig = Extract<Config['cache'], { backend: 'redis' }>;
export type ScriptedRedis = Redis & ScriptCommands;

const MAX_RECONNECT_DELAY_MS = 2_000;

/**
 * Options chosen so that a missing Redis costs callers at most `commandTimeoutMs`, never a hang:
 * no offline queue (commands fail at once while disconnected), one retry per command, and a
 * reconnect loop that never gives up but backs off to at most 2 s so recovery is quick.
 */
export function connectionOptions(config: RedisCacheConfig): RedisOptions {
  return {
    lazyConnect: true,
    connectTimeout: config.connectTimeoutMs,
    commandTimeout: config.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (times) => Math.min(times * 200, MAX_RECONNECT_DELAY_MS),
    scripts: SCRIPTS,
  };
}

export function createRedisClient(config: RedisCacheConfig): ScriptedRedis {
  // The prefix is applied by RedisCache, not by ioredis `keyPrefix`, because SCAN MATCH
  // patterns and the keys SCAN returns are not rewritten by ioredis.
  return new Redis(config.url, connectionOptions(config)) as ScriptedRedis;
}

/**
 * Logs each transition between up and down once: a Redis outage triggers a reconnect attempt
 * (and an `error` event) every couple of seconds, which must not flood the log. The URL is
 * never logged because it may carry a password. Returns a function that silences the watcher
 * before a deliberate close.
 */
export function watchConnection(client: Redis, logger: Logger): () => void {
  let state: 'starting' | 'up' | 'down' = 'starting';
  let stopped = false;
  const down = (err?: Error): void => {
    if (stopped || state === 'down') return;
    state = 'down';
    logger.warn({ err }, 'cache: Redis unavailable, operations fail with CACHE_UNAVAILABLE until it reconnects');
  };
  // Without an `error` listener ioredis reports every failed attempt on the console itself.
  client.on('error', down);
  client.on('close', () => down());
  client.on('ready', () => {
    if (stopped) return;
    logger.info(state === 'down' ? 'cache: Redis connection restored' : 'cache: connected to Redis');
    state = 'up';
  });
  return () => {
    stopped = true;
  };
}
