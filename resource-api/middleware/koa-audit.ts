import type { Context, Middleware } from 'koa';
import { fromRequest, type Audit, type AuditEventName, type AuditInput } from '#shared/audit/index.js';
import { toAppError } from '#shared/http/index.js';
import type { Caller } from '../auth/principal.js';

/** One audit event as an operation describes it; the actor and the request are added here. */
export interface AuditFacts {
  event: AuditEventName;
  subject?: AuditInput['subject'];
  properties?: Record<string, unknown>;
}

/**
 * Records one event for a call made in `ctx` by `caller` (the request id, address prefix and
 * user agent come from the HTTP request that carried it, a REST call or an MCP tool call alike).
 * The catalog's allow-list still decides which properties are stored.
 */
export function recordAudit(audit: Pick<Audit, 'record'>, ctx: Context, caller: Caller | undefined, outcome: AuditInput['outcome'], facts: AuditFacts): void {
  const actor = !caller ? {} : caller.kind === 'client' ? { clientId: caller.clientId } : { userId: caller.userId, ...(caller.clientId ? { clientId: caller.clientId } : {}) };
  audit.record(facts.event, { outcome, actor, ...(facts.subject ? { subject: facts.subject } : {}), ...fromRequest(ctx), properties: facts.properties ?? {} });
}

/**
 * The Stripe webhook's outcome, decided at the edge from the answer: the route is signed rather
 * than a contract, so it has no `audit` rule of its own (contract routes declare theirs, see
 * RouteContract.audit, and record them wherever they are called from).
 */
function classify(ctx: Context, status: number, code: string | undefined): (AuditFacts & { outcome: AuditInput['outcome'] }) | undefined {
  if (ctx.method !== 'POST' || ctx.path !== '/v1/webhooks/stripe') return undefined;
  if (status === 400) return { event: 'webhook.rejected', outcome: 'denied', properties: { provider: 'stripe', reason: code } };
  if (status >= 500) return { event: 'webhook.failed', outcome: 'failure', properties: { provider: 'stripe', errorCode: code } };
  if (status === 200) return { event: 'webhook.processed', outcome: 'success', properties: { provider: 'stripe' } };
  return undefined;
}

export function koaAudit(audit: Audit): Middleware {
  // Errors are seen here before the shared error handler turns them into bodies.
  return async (ctx, next) => {
    let status = 0;
    let code: string | undefined;
    try {
      await next();
      status = ctx.status;
      code = (ctx.body as { error?: { code?: string } } | undefined)?.error?.code;
    } catch (err) {
      const e = toAppError(err);
      [status, code] = [e.status, e.code];
      throw err;
    } finally {
      const o = classify(ctx, status, code);
      if (o) recordAudit(audit, ctx, ctx.state.principal, o.outcome, o);
    }
  };
}
