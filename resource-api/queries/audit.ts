import type { Knex } from 'knex';

export interface AuditRow {
  id: string;
  event: string;
  outcome: string;
  actor_user_id: string | null;
  actor_client_id: string | null;
  subject_type: string | null;
  subject_id: string | null;
  request_id: string | null;
  ip_prefix: string | null;
  user_agent: string | null;
  properties: string;
  created_at: number | string;
}

export interface AuditFilter {
  actor?: string;
  event?: string;
  outcome?: string;
  from?: number;
  to?: number;
  after?: { t: number; id: string };
  limit: number;
}

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
  return q.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(f.limit);
}
