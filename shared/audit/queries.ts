import type { Knex } from 'knex';
import type { AuditRow } from './table-sink.js';

export interface AuditFilter {
  actor?: string;
  event?: string;
  outcome?: string;
  from?: number;
  to?: number;
  after?: { t: number; id: string };
  limit: number;
}

const NEWEST_FIRST = [{ column: 'created_at', order: 'desc' as const }, { column: 'id', order: 'desc' as const }];
const OLDEST_FIRST = [{ column: 'created_at', order: 'asc' as const }, { column: 'id', order: 'asc' as const }];

/** Newest first, keyset-paginated on (created_at, id). `actor` matches a user or a client id. */
export async function listAudit(db: Knex, f: AuditFilter): Promise<AuditRow[]> {
  const q = db('audit_log');
  if (f.actor) q.where((w) => w.where('actor_user_id', f.actor!).orWhere('actor_client_id', f.actor!));
  if (f.event) q.andWhere('event', f.event);
  if (f.outcome) q.andWhere('outcome', f.outcome);
  if (f.from !== undefined) q.andWhere('created_at', '>=', f.from);
  if (f.to !== undefined) q.andWhere('created_at', '<', f.to);
  if (f.after) {
    const { t, id } = f.after;
    q.andWhere((w) => w.where('created_at', '<', t).orWhere((e) => e.where('created_at', '=', t).andWhere('id', '<', id)));
  }
  return q.orderBy(NEWEST_FIRST).limit(f.limit);
}

/** Rows written after `row` (oldest first): what `audit:tail --follow` prints next. */
export async function auditAfter(db: Knex, row: Pick<AuditRow, 'created_at' | 'id'> | undefined, limit: number): Promise<AuditRow[]> {
  const q = db('audit_log');
  if (row) {
    const t = Number(row.created_at);
    q.where((w) => w.where('created_at', '>', t).orWhere((e) => e.where('created_at', '=', t).andWhere('id', '>', row.id)));
  }
  return q.orderBy(OLDEST_FIRST).limit(limit);
}
