import { parseArgs } from 'node:util';
import type { Command } from './types.js';
import { UsageError } from './types.js';
import type { Knex } from 'knex';
import type { Config } from '#shared/config/index.js';
import { createLogger } from '#shared/logging/logger.js';
import { withDb } from './context.js';
import { auditAfter, createAudit, listAudit, type Audit, type AuditEventName, type AuditInput, type AuditRow } from '#shared/audit/index.js';

/** Operator actions are audited like any other; the actor is the CLI (no user id). */
export const CLI_ACTOR = { clientId: 'admin-cli' } as const;

/**
 * Records one operator event through the same audit module as the services (table, and
 * PostHog when configured) and waits until it is written: the CLI exits right after.
 */
export async function recordCliEvent(db: Knex, config: Config, event: AuditEventName, input: Omit<AuditInput, 'actor'>): Promise<void> {
  const audit: Audit = createAudit({ db, logger: createLogger({ level: 'warn', service: 'admin-cli' }), secret: config.secrets.authSecret, ...(config.posthog ? { posthog: config.posthog } : {}) });
  audit.record(event, { ...input, actor: CLI_ACTOR });
  await audit.close();
}

const line = (r: AuditRow) =>
  [
    new Date(Number(r.created_at)).toISOString(),
    r.event,
    r.outcome,
    `actor=${r.actor_user_id ?? '-'}/${r.actor_client_id ?? '-'}`,
    r.subject_type ? `subject=${r.subject_type}:${r.subject_id}` : '',
    r.request_id ? `req=${r.request_id}` : '',
    r.properties && r.properties !== '{}' ? r.properties : '',
  ]
    .filter(Boolean)
    .join('  ');

export const auditCommands: Record<string, Command> = {
  'audit:tail': {
    summary: 'print the newest audit events (--limit N, default 20; --follow to keep printing new ones)',
    usage: '[--limit N] [--follow]',
    run: async (args, write, io) => {
      let values;
      try {
        ({ values } = parseArgs({ args, options: { limit: { type: 'string', default: '20' }, follow: { type: 'boolean', default: false } }, strict: true, allowPositionals: false }));
      } catch (err) {
        throw new UsageError(`${(err as Error).message}\nusage: npm run admin -- audit:tail [--limit N] [--follow]`);
      }
      const limit = Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be a whole number from 1 to 1000');
      await withDb(io.env, async (db) => {
        const newest = await listAudit(db, { limit });
        for (const r of newest.reverse()) write(line(r));
        if (!values.follow) return;
        let last = newest.at(-1);
        // Until Ctrl-C: poll once a second for rows after the last one printed.
        for (;;) {
          await new Promise((r) => setTimeout(r, 1000));
          const rows = await auditAfter(db, last, 500);
          for (const r of rows) write(line(r));
          last = rows.at(-1) ?? last;
        }
      });
    },
  },
};
