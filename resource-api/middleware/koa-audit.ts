import type { Context, Middleware } from 'koa';
import { fromRequest, type Audit, type AuditEventName, type AuditInput } from '#shared/audit/index.js';
import { toAppError } from '#shared/http/index.js';

type Outcome = { event: AuditEventName; outcome: AuditInput['outcome']; subject?: AuditInput['subject']; properties?: Record<string, unknown> };

const field = (ctx: Context, name: string): unknown => ((ctx.request as unknown as { body?: Record<string, unknown> }).body ?? {})[name];

/**
 * Which finished API requests are audit events, decided at one edge from the route and the
 * answer (never from request bodies beyond the ids the catalog allows). Services stay free of
 * audit plumbing; the catalog's allow-list still decides what is stored.
 */
function classify(ctx: Context, status: number, code: string | undefined, details: Record<string, unknown> | undefined): Outcome | undefined {
  const id = typeof ctx.params?.id === 'string' ? ctx.params.id : undefined;
  const listingId = field(ctx, 'listingId');
  if (code === 'REVIEW_REJECTED') return { event: 'review.rejected', outcome: 'denied', properties: { reason: details?.reason, listingId: ctx.params?.listingId } };
  if (code === 'INVALID_RETURN_URL') return { event: 'return_url.rejected', outcome: 'denied', properties: { reason: 'not_allowed' } };
  if (code === 'QUOTA_EXCEEDED') return { event: 'quota.exceeded', outcome: 'denied', properties: { listingId } };
  if (code === 'IDEMPOTENCY_KEY_REUSED') return { event: 'client_req_id.conflicted', outcome: 'denied', properties: { route: ctx.path } };
  if (ctx.method !== 'POST') return undefined;
  if (status === 200 && id && ctx.path.endsWith('/publish')) return { event: 'listing.published', outcome: 'success', subject: { type: 'listing', id }, properties: { status: 'published' } };
  if (status === 200 && id && ctx.path.endsWith('/suspend')) return { event: 'listing.suspended', outcome: 'success', subject: { type: 'listing', id }, properties: { reason: 'admin' } };
  if (status === 201 && ctx.path === '/v1/checkout/sessions') return { event: 'checkout.created', outcome: 'success', properties: { listingId } };
  if (ctx.path === '/v1/webhooks/stripe') {
    if (status === 400) return { event: 'webhook.rejected', outcome: 'denied', properties: { provider: 'stripe', reason: code } };
    if (status >= 500) return { event: 'webhook.failed', outcome: 'failure', properties: { provider: 'stripe', errorCode: code } };
    if (status === 200) return { event: 'webhook.processed', outcome: 'success', properties: { provider: 'stripe' } };
  }
  return undefined;
}

export function koaAudit(audit: Audit): Middleware {
  // Errors are seen here before the shared error handler turns them into bodies.
  return async (ctx, next) => {
    let status = 0;
    let code: string | undefined;
    let details: Record<string, unknown> | undefined;
    try {
      await next();
      status = ctx.status;
      code = (ctx.body as { error?: { code?: string } } | undefined)?.error?.code;
    } catch (err) {
      const e = toAppError(err);
      [status, code, details] = [e.status, e.code, e.data];
      throw err;
    } finally {
      const o = classify(ctx, status, code, details);
      if (o) {
        const p = ctx.state.principal;
        const actor = !p ? {} : p.kind === 'client' ? { clientId: p.clientId } : { userId: p.userId, ...(p.clientId ? { clientId: p.clientId } : {}) };
        audit.record(o.event, { outcome: o.outcome, actor, ...(o.subject ? { subject: o.subject } : {}), ...fromRequest(ctx), properties: o.properties ?? {} });
      }
    }
  };
}
