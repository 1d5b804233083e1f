import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from '../logging/logger.js';
import type { AuditEventName, AuditOutcome } from './catalog.js';
import { createPostHogSink, type PostHogSinkOptions } from './posthog-sink.js';
import { redactProperties, scrubString, truncateIp } from './redact.js';
import { createTableSink, type AuditRow } from './table-sink.js';

export interface AuditInput {
  outcome: AuditOutcome;
  actor?: { userId?: string; clientId?: string };
  subject?: { type: string; id: string };
  requestId?: string;
  ip?: string;
  userAgent?: string;
  properties?: Record<string, unknown>;
}

export interface AuditOptions {
  db: Knex;
  logger: Logger;
  /** Key for email hashes; keep it stable, or hashes stop linking across events. */
  secret: string;
  posthog?: PostHogSinkOptions;
  /** Bound on rows waiting for the table (default 10 000). */
  maxPending?: number;
  /** How long close() and flush() wait for PostHog (default 5000 ms). */
  posthogTimeoutMs?: number;
}

export interface AuditStats {
  written: number;
  failed: number;
  dropped: number;
  pending: number;
  redactedProperties: number;
  posthogEnqueued: number;
  posthogSent: number;
  posthogErrors: number;
  posthogQueued: number;
  posthogLost: number;
}

export interface Audit {
  record(event: AuditEventName, input: AuditInput): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  stats(): AuditStats;
  purge(olderThanMs: number): Promise<number>;
}

/**
 * The audit trail: every event goes to the `audit_log` table and, when an API key is set, to
 * PostHog, both fed by the same redacted record. `record` does no I/O and never throws: an
 * audit problem must not fail or slow the request that triggered it.
 */
export function createAudit(opts: AuditOptions): Audit {
  const { db, logger, secret } = opts;
  const log = logger.child({ component: 'audit' });
  const table = createTableSink({ db, logger: log, maxPending: opts.maxPending });
  const posthog = opts.posthog ? createPostHogSink(opts.posthog, log) : undefined;
  const timeoutMs = opts.posthogTimeoutMs ?? 5000;
  let redactedProperties = 0;
  let rejected = 0;
  let closed = false;

  function record(event: AuditEventName, input: AuditInput): void {
    try {
      if (closed) throw new Error('audit closed');
      const { properties, dropped } = redactProperties(event, input.properties, secret);
      redactedProperties += dropped.length;
      const row = toRow(event, input, JSON.stringify(properties));
      table.push(row);
      const distinctId = row.actor_user_id ?? row.actor_client_id;
      posthog?.capture({
        distinctId: distinctId ?? 'portcullis',
        event,
        properties: {
          ...properties,
          outcome: row.outcome,
          actorClientId: row.actor_client_id,
          subjectType: row.subject_type,
          subjectId: row.subject_id,
          requestId: row.request_id,
          // No actor: an anonymous event, not a person (https://posthog.com/docs/data/anonymous-vs-identified-events).
          ...(distinctId ? {} : { $process_person_profile: false }),
        },
      });
    } catch (err) {
      rejected++;
      if (rejected === 1 || rejected % 1000 === 0) log.error({ event, rejected, errName: (err as Error)?.name }, 'audit event not recorded');
    }
  }

  function toRow(event: AuditEventName, input: AuditInput, properties: string): AuditRow {
    const s = (v: string | undefined, max: number) => (v ? scrubString(v, secret, max) : null);
    return {
      id: randomUUID(),
      event,
      outcome: input.outcome,
      actor_user_id: s(input.actor?.userId, 255),
      actor_client_id: s(input.actor?.clientId, 255),
      subject_type: s(input.subject?.type, 64),
      subject_id: s(input.subject?.id, 255),
      request_id: s(input.requestId, 128),
      ip_prefix: truncateIp(input.ip) ?? null,
      user_agent: s(input.userAgent, 200),
      properties,
      created_at: Date.now(),
    };
  }

  return {
    record,
    async flush() {
      await table.flush();
      await posthog?.flush(timeoutMs);
    },
    async close() {
      closed = true;
      await table.flush();
      await posthog?.shutdown(timeoutMs);
    },
    stats() {
      const t = table.stats();
      const p = posthog?.stats();
      return {
        written: t.written,
        failed: t.failed,
        dropped: t.dropped + rejected,
        pending: t.pending,
        redactedProperties,
        posthogEnqueued: p?.enqueued ?? 0,
        posthogSent: p?.sent ?? 0,
        posthogErrors: p?.errors ?? 0,
        posthogQueued: p?.queued ?? 0,
        posthogLost: p?.lost ?? 0,
      };
    },
    /**
     * The audit trail past its retention: `audit_log` rows and the `stripe_events` ledger (the
     * trail of Stripe deliveries; Stripe resends events for at most 30 days, so dedupe never needs
     * older rows, and every handler is idempotent by its own unique keys anyway). Only events that
     * are done: a pending or dead one is still the queue's, whatever its age.
     */
    async purge(olderThanMs) {
      const cutoff = Date.now() - olderThanMs;
      const audit = await db('audit_log').where('created_at', '<', cutoff).delete();
      const stripe = await db('stripe_events').where('received_at', '<', cutoff).whereIn('status', ['processed', 'ignored']).delete();
      return audit + stripe;
    },
  };
}
