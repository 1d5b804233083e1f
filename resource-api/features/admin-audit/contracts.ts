import type { Knex } from 'knex';
import { z } from 'zod';
import { AUDIT_EVENTS, AUDIT_OUTCOMES, listAudit, type AuditRow } from '#shared/audit/index.js';
import { HttpErrors } from '#shared/errors/index.js';
import { defineRoute, errorCodes, type RouteContract } from '../../http/contract.js';
import { cursorParam, encodeCursor } from '../../http/cursor.js';


const entry = z.object({
  id: z.string(),
  event: z.string(),
  outcome: z.enum(AUDIT_OUTCOMES),
  actor: z.object({ userId: z.string().nullable(), clientId: z.string().nullable() }),
  subject: z.object({ type: z.string(), id: z.string() }).nullable(),
  requestId: z.string().nullable(),
  ipPrefix: z.string().nullable(),
  userAgent: z.string().nullable(),
  properties: z.record(z.string(), z.unknown()),
  createdAt: z.iso.datetime(),
});

const view = (r: AuditRow): z.infer<typeof entry> => ({
  id: r.id,
  event: r.event,
  outcome: r.outcome as z.infer<typeof entry>['outcome'],
  actor: { userId: r.actor_user_id, clientId: r.actor_client_id },
  subject: r.subject_type && r.subject_id ? { type: r.subject_type, id: r.subject_id } : null,
  requestId: r.request_id,
  ipPrefix: r.ip_prefix,
  userAgent: r.user_agent,
  properties: JSON.parse(r.properties || '{}') as Record<string, unknown>,
  createdAt: new Date(Number(r.created_at)).toISOString(),
});

/** GET /v1/admin/audit: the audit trail for operators (permission audit: read, session only). */
export function adminAuditRoutes(db: Knex): RouteContract[] {
  return [
    defineRoute({
      method: 'get', path: '/v1/admin/audit', operationId: 'listAuditEvents', summary: 'Audit events, newest first, filtered', tag: 'admin', access: { permission: { audit: ['read'] } },
      query: z.strictObject({
        actor: z.string().min(1).max(255).optional(),
        event: z.enum(Object.keys(AUDIT_EVENTS) as [string, ...string[]]).optional(),
        outcome: z.enum(AUDIT_OUTCOMES).optional(),
        from: z.iso.datetime().optional(),
        to: z.iso.datetime().optional(),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        cursor: z.string().max(200).optional(),
      }),
      response: z.object({ items: z.array(entry), nextCursor: z.string().nullable() }), status: 200, errors: [400, 401, 403, 503], errorCodes: errorCodes(HttpErrors, 'INVALID_CURSOR'),
      handler: async (_ctx, { query }) => {
        const after = cursorParam(query.cursor);
        const rows = await listAudit(db, {
          actor: query.actor, event: query.event, outcome: query.outcome, after, limit: query.limit + 1,
          from: query.from ? Date.parse(query.from) : undefined, to: query.to ? Date.parse(query.to) : undefined,
        });
        const page = rows.slice(0, query.limit);
        const last = page.at(-1);
        return { items: page.map(view), nextCursor: rows.length > query.limit && last ? encodeCursor({ t: Number(last.created_at), id: last.id }) : null };
      },
    }),
  ];
}
