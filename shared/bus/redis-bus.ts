import { Redis } from 'ioredis';
import type { Logger } from '../logging/logger.js';
import { connectionOptions, type RedisCacheConfig } from '../cache/redis-connection.js';
import { busKeys, PUBLISH_SCRIPT } from './redis-keys.js';
import { createPublisher, type PublishingRedis } from './redis-publisher.js';
import { Follower } from './redis-follower.js';
import type { BusEvent, BusHandler, ChangeBus } from './types.js';

export interface RedisBusOptions {
  redis: RedisCacheConfig;
  maxLength: number;
  denyWindowMs: number;
  retryForMs: number;
  logger: Logger;
  /** How long one XREAD BLOCK waits (tests shorten it). */
  blockMs?: number;
}

const BLOCK_MS = 2_000;

/**
 * The bus on Redis: a `main` connection publishes and answers `sync()`; a second one, opened
 * with the first subscriber, blocks on XREAD (a blocked connection can send nothing else). Both
 * fail fast while disconnected (no offline queue) and reconnect in the background.
 */
export async function createRedisBus(opts: RedisBusOptions): Promise<ChangeBus> {
  const keys = busKeys(opts.redis.keyPrefix);
  const logger = opts.logger.child({ component: 'bus' });
  const main = new Redis(opts.redis.url, connectionOptions(opts.redis)) as PublishingRedis;
  main.defineCommand('portcullisPublish', { numberOfKeys: 4, lua: PUBLISH_SCRIPT });
  // Without an `error` listener ioredis reports every failed attempt on the console; the bus
  // logs its own transitions (stale, caught up, publish retried).
  main.on('error', () => undefined);
  await connectCapped(main, opts.redis);
  const publisher = createPublisher(main, { keys, maxLength: opts.maxLength, denyWindowMs: opts.denyWindowMs, retryForMs: opts.retryForMs, logger });
  const handlers = new Set<BusHandler>();
  const emit = (e: BusEvent) => {
    for (const h of handlers) h(e);
  };
  let follower: Follower | undefined;
  let blocking: Redis | undefined;

  return {
    kind: 'redis',
    publish: (change) => publisher.publish(change),
    subscribe(handler) {
      handlers.add(handler);
      if (!follower) {
        const blockMs = opts.blockMs ?? BLOCK_MS;
        // The blocking read may take blockMs before it answers: its timeout is that much longer.
        blocking = new Redis(opts.redis.url, { ...connectionOptions(opts.redis), commandTimeout: blockMs + opts.redis.commandTimeoutMs });
        blocking.on('error', () => undefined);
        follower = new Follower(main, blocking, emit, { keys, denyWindowMs: opts.denyWindowMs, blockMs, logger });
        follower.start(blocking.connect().catch(() => undefined));
      }
      return () => void handlers.delete(handler);
    },
    sync: () => follower?.sync() ?? Promise.resolve(false),
    stats: () => ({ state: !follower ? 'idle' : follower.following ? 'following' : 'stale', unpublished: publisher.waiting() }),
    async close() {
      follower?.stop();
      const unpublished = await publisher.flush();
      blocking?.disconnect();
      await main.quit().catch(() => main.disconnect());
      return { unpublished };
    },
  };
}

/** As the cache does at boot: an unreachable Redis does not stop the service (see createRedisCache). */
async function connectCapped(client: Redis, config: RedisCacheConfig): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const capped = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, config.connectTimeoutMs + config.commandTimeoutMs);
  });
  await Promise.race([client.connect().catch(() => undefined), capped]);
  clearTimeout(timer);
}
