import { parseArgs } from 'node:util';
import { deadEventIds, findEvent, listEvents, retryDeadEvent, type StripeEventRow, type StripeEventStatus } from '#api/features/billing/webhook/queries.js';
import type { Command } from './types.js';
import { UsageError } from './types.js';
import { withDb } from './context.js';
import { recordCliEvent } from './audit.js';

const STATUSES: readonly StripeEventStatus[] = ['dead', 'pending', 'processed', 'ignored'];
const LIST_USAGE = 'webhooks:list [--status dead|pending|processed|ignored] [--limit N]';
const RETRY_USAGE = 'webhooks:retry EVENT_ID… | --all-dead';

const at = (ms: number | string | null) => (ms === null ? '-' : new Date(Number(ms)).toISOString());

/** One line per event: what an operator needs to decide (never the payload). */
const line = (r: Omit<StripeEventRow, 'payload'>) =>
  [r.id, r.type, r.status, `attempts=${r.attempts}`, `error=${r.last_error ?? '-'}`, `customer=${r.customer_id ?? '-'}`, `created=${at(r.event_created_at)}`, `received=${at(r.received_at)}`,
    r.status === 'pending' ? `next=${at(r.next_attempt_at)}${r.locked_by ? ` leased-by=${r.locked_by} until=${at(r.locked_until)}` : ''}` : '']
    .filter(Boolean).join('  ');

/**
 * The Stripe event queue (docs/operations.md): what is dead-lettered or waiting, one event in
 * full, and a dead event sent back to the workers. A retry is audited (webhook.retried).
 */
export const webhookCommands: Record<string, Command> = {
  'webhooks:list': {
    summary: 'list stored Stripe events by status (default: dead, newest first; pending in the order they apply)',
    usage: LIST_USAGE.replace(/^webhooks:list /, ''),
    run: async (args, write, io) => {
      let values;
      try {
        ({ values } = parseArgs({ args, options: { status: { type: 'string', default: 'dead' }, limit: { type: 'string', default: '50' } }, strict: true, allowPositionals: false }));
      } catch (err) {
        throw new UsageError(`${(err as Error).message}\nusage: npm run admin -- ${LIST_USAGE}`);
      }
      const status = values.status as StripeEventStatus;
      if (!STATUSES.includes(status)) throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`);
      const limit = Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10000) throw new UsageError('--limit must be a whole number from 1 to 10000');
      await withDb(io.env, async (db) => {
        const rows = await listEvents(db, status, limit);
        if (rows.length === 0) write(`no ${status} events`);
        for (const r of rows) write(line(r));
      });
    },
  },
  'webhooks:show': {
    summary: 'show one stored Stripe event: status, attempts, last error, lease, times (not its payload)',
    usage: 'EVENT_ID',
    run: async (args, write, io) => {
      if (args.length !== 1) throw new UsageError('usage: npm run admin -- webhooks:show EVENT_ID');
      await withDb(io.env, async (db) => {
        const e = await findEvent(db, args[0]!);
        if (!e) throw new UsageError(`no stored Stripe event ${args[0]}`);
        const fields: [string, unknown][] = [
          ['id', e.id], ['type', e.type], ['status', e.status], ['attempts', e.attempts], ['last_error', e.last_error ?? '-'], ['last_failed_at', at(e.last_failed_at)],
          ['customer', e.customer_id ?? '-'], ['object', e.object_id ?? '-'], ['created', at(e.event_created_at)], ['received', at(e.received_at)],
          ['next_attempt_at', at(e.next_attempt_at)], ['locked_by', e.locked_by ?? '-'], ['locked_until', at(e.locked_until)], ['processed_at', at(e.processed_at)],
          ['payload', e.payload_bytes === null ? 'not stored' : `stored (${e.payload_bytes} characters)`],
        ];
        for (const [k, v] of fields) write(`${k.padEnd(16)} ${String(v)}`);
      });
    },
  },
  'webhooks:retry': {
    summary: 'send dead Stripe events back to the workers (a fresh allowance of attempts, due now); audited',
    usage: RETRY_USAGE.replace(/^webhooks:retry /, ''),
    run: async (args, write, io) => {
      const all = args.length === 1 && args[0] === '--all-dead';
      if (args.length === 0 || (!all && args.some((a) => a.startsWith('-')))) throw new UsageError(`usage: npm run admin -- ${RETRY_USAGE}`);
      await withDb(io.env, async (db, config) => {
        const ids = all ? await deadEventIds(db) : args;
        if (all && ids.length === 0) write('no dead events with a payload to retry');
        let refused = 0;
        for (const id of ids) {
          const before = await findEvent(db, id);
          const outcome = await retryDeadEvent(db, id, Date.now());
          if (outcome !== 'retried') {
            refused++;
            write(`${id}: ${outcome === 'not_found' ? 'no such event' : outcome === 'no_payload' ? 'dead without a payload (stored before the queue): resend it from the Stripe dashboard' : `not dead (${before?.status})`}`);
            continue;
          }
          await recordCliEvent(db, config, 'webhook.retried', {
            outcome: 'success', subject: { type: 'stripe_event', id },
            properties: { provider: 'stripe', eventType: before!.type, eventId: id, previousError: before!.last_error },
          });
          write(`${id}: pending again (was dead: ${before!.last_error ?? '-'} after ${before!.attempts} attempt(s))`);
        }
        if (refused > 0) throw new Error(`${refused} of ${ids.length} event(s) not retried`);
      });
    },
  },
};
