import { createRequire } from 'node:module';
import type { PostHog as PostHogClient } from 'posthog-node';
import type { Logger } from '../logging/logger.js';
import type { AuditProperties } from './redact.js';

export interface PostHogSinkOptions {
  apiKey: string;
  host: string;
  flushAt?: number;
  flushInterval?: number;
  /** posthog-node drops the oldest queued event beyond this (default here 1000). */
  maxQueueSize?: number;
  disableCompression?: boolean;
  fetchRetryCount?: number;
  /** Per HTTP request to PostHog, default here 3000 ms (posthog-node's own is 10 s). */
  requestTimeout?: number;
}

export interface PostHogEvent {
  distinctId: string;
  event: string;
  properties: AuditProperties;
}

/**
 * posthog-node's `capture` only appends to an in-memory queue and flushes in the background
 * (flushAt / flushInterval), so a slow or unreachable PostHog never delays the caller. The
 * queue is bounded by maxQueueSize: when PostHog is down, failed batches stay queued and the
 * oldest events are shifted out. We count what it reports: events enqueued ('capture'),
 * sent ('flush'), request errors ('error'); lost = enqueued − sent − still queued.
 */
export function createPostHogSink(opts: PostHogSinkOptions, logger: Logger) {
  // Loaded only when an API key is set: some hundred modules a process without PostHog never needs.
  const { PostHog } = createRequire(import.meta.url)('posthog-node') as { PostHog: typeof PostHogClient };
  const client = new PostHog(opts.apiKey, {
    host: opts.host,
    flushAt: opts.flushAt ?? 20,
    flushInterval: opts.flushInterval ?? 10_000,
    maxQueueSize: opts.maxQueueSize ?? 1000,
    disableCompression: opts.disableCompression ?? false,
    fetchRetryCount: opts.fetchRetryCount ?? 3,
    requestTimeout: opts.requestTimeout ?? 3000,
    // The server's own IP would be geolocated, not the user's; and no IP is sent anyway.
    disableGeoip: true,
  });
  const counts = { enqueued: 0, sent: 0, errors: 0 };
  let failing = false;
  client.on('capture', () => {
    counts.enqueued++;
  });
  client.on('flush', (sent: unknown) => {
    counts.sent += Array.isArray(sent) ? sent.length : 0;
    failing = false;
  });
  client.on('error', (err: unknown) => {
    counts.errors++;
    if (failing) return;
    failing = true;
    const e = err as { name?: unknown; status?: unknown };
    logger.warn({ errName: e.name, status: e.status }, 'PostHog delivery failed; audit events stay queued (bounded)');
  });

  function queued(): number {
    const queue: unknown = client.getPersistedProperty('queue' as Parameters<PostHogClient['getPersistedProperty']>[0]);
    return Array.isArray(queue) ? queue.length : 0;
  }

  return {
    capture(e: PostHogEvent): void {
      client.capture({ distinctId: e.distinctId, event: e.event, properties: e.properties });
    },
    async flush(timeoutMs: number): Promise<void> {
      await withTimeout(client.flush(), timeoutMs).catch(() => undefined);
    },
    async shutdown(timeoutMs: number): Promise<void> {
      await withTimeout(client.shutdown(timeoutMs), timeoutMs + 100).catch(() => undefined);
    },
    stats() {
      const inQueue = queued();
      return { ...counts, queued: inQueue, lost: Math.max(0, counts.enqueued - counts.sent - inQueue) };
    },
  };
}

export type PostHogSink = ReturnType<typeof createPostHogSink>;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
