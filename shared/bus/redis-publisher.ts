import { LRUCache } from 'lru-cache';
import type { Redis } from 'ioredis';
import type { Logger } from '../logging/logger.js';
import { checkChange, isRevocation, subjectOf, type Change } from './changes.js';
import type { BusKeys } from './redis-keys.js';

export type PublishingRedis = Redis & {
  portcullisPublish(log: string, head: string, since: string, deny: string, maxLength: number, change: string, now: number, windowMs: number, member: string, score: number): Promise<string>;
};

export interface PublisherOptions {
  keys: BusKeys;
  /** MAXLEN ~ of the stream: how many changes a disconnected reader can still catch up on. */
  maxLength: number;
  /** How long a revocation matters: a token issued before it lives at most this long. */
  denyWindowMs: number;
  /** How long a change that could not be published is retried (it matters no longer after). */
  retryForMs: number;
  logger: Logger;
  now?: () => number;
}

/** Bound on changes held for retry while Redis cannot take them. */
const MAX_QUEUED = 10_000;
const RETRY_EVERY_MS = 1_000;

/**
 * Publishes changes with one atomic script (deny state + stream entry + head). A change Redis
 * cannot take is kept and retried every second while it can still matter, in order; the
 * caller's request is not failed for it, because the change itself is already committed.
 */
export function createPublisher(client: PublishingRedis, opts: PublisherOptions) {
  const now = opts.now ?? Date.now;
  const { keys } = opts;
  const queue: { change: Change; since: number }[] = [];
  let timer: NodeJS.Timeout | undefined;
  // A revoked grant stays revoked, and oidc-provider revokes a grant once per token model (four
  // calls at once): one announcement each is enough.
  const grantsAnnounced = new LRUCache<string, true>({ max: 10_000 });

  const send = (change: Change) => {
    const deny = isRevocation(change) ? { key: keys.deny[change.type], member: subjectOf(change), score: change.at } : undefined;
    return client.portcullisPublish(
      keys.log, keys.head, keys.since, deny?.key ?? keys.deny['grant.revoked'],
      opts.maxLength, JSON.stringify(change), now(), opts.denyWindowMs, deny?.member ?? '', deny?.score ?? 0,
    );
  };

  let draining: Promise<void> | undefined;
  const drain = () => (draining ??= drainQueue().finally(() => (draining = undefined)));

  async function drainQueue(): Promise<void> {
    let sent = 0;
    while (queue.length) {
      const next = queue[0]!;
      if (now() - next.since > opts.retryForMs) {
        queue.shift();
        opts.logger.error({ change: next.change.type }, 'bus: a change could not be published in time and was dropped');
        continue;
      }
      await send(next.change);
      queue.shift();
      sent++;
    }
    if (sent) opts.logger.info({ count: sent }, 'bus: delayed changes published');
  }

  function retryLater(change: Change, err: unknown): void {
    if (queue.length === 0) opts.logger.warn({ err: { message: (err as Error)?.message } }, 'bus: Redis did not take a change; retrying every second');
    if (queue.length >= MAX_QUEUED) queue.shift();
    queue.push({ change, since: now() });
    timer ??= setInterval(() => {
      void drain().then(() => {
        clearInterval(timer);
        timer = undefined;
      }, () => undefined);
    }, RETRY_EVERY_MS).unref();
  }

  return {
    async publish(change: Change): Promise<boolean> {
      checkChange(change);
      if (change.type === 'grant.revoked' && grantsAnnounced.has(change.grantId)) return true;
      // Behind changes still waiting: keep the order.
      if (queue.length) {
        retryLater(change, undefined);
        return false;
      }
      try {
        await send(change);
        if (change.type === 'grant.revoked') grantsAnnounced.set(change.grantId, true);
        return true;
      } catch (err) {
        retryLater(change, err);
        return false;
      }
    },
    waiting: () => queue.length,
    /** One last attempt for what is still queued; returns how many changes were lost. */
    async flush(): Promise<number> {
      clearInterval(timer);
      timer = undefined;
      await drain().catch(() => undefined);
      if (queue.length) opts.logger.error({ lost: queue.length }, 'bus: changes never published (replicas see them when their cache entries expire)');
      return queue.length;
    },
  };
}
